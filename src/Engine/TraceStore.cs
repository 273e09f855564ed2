using System.Buffers;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TraceStore.Engine.Admission;
using TraceStore.Engine.Compaction;
using TraceStore.Engine.Ingest;
using TraceStore.Engine.Wal;
using TraceStore.Protocol.Model;
using TraceStore.Protocol.Otlp;

namespace TraceStore.Engine;

/// <summary>
/// The store: open it on a folder, ingest OTLP requests, close it. Opening replays the write-ahead log (every record
/// verified and decoded again, one at a time) and continues it.
/// <para>Ingest path: admission (the memory budget; refuse before buffering more) → decode and validate (bounded
/// concurrency) → WAL append (acknowledged per the durability mode) → the span assembler. A request is accepted only
/// once its WAL record is durable; bad input is rejected with the decoder's error and never logged.</para>
/// <para>Thread-safe: any number of callers may ingest concurrently; concurrent appends share WAL writes and fsyncs.</para>
/// </summary>
public sealed class TraceStore : IAsyncDisposable
{
    /// <summary>Before decoding, a request is assumed to need this many times its body in memory (body, decoded batch
    /// and the assembler's copy for an uncompressed body; compressed bodies expand first). The reservation is
    /// corrected once the batch exists.</summary>
    private const int IdentityExpansion = 4;
    private const int CompressedExpansion = 12;

    private readonly TraceStoreOptions _options;
    private readonly DataFolderLock _lock;
    private readonly WalWriter _wal;
    private readonly DecoderPool _decoders;
    private readonly ILogger _logger;
    private readonly IngestCounters _counters = new();
    private readonly ReplaySummary _replay;
    private readonly Pipeline _pipeline;
    private int _disposed;

    private TraceStore(TraceStoreOptions options, DataFolderLock folderLock, WalWriter wal, DecoderPool decoders, MemoryBudget budget, ILogger logger, ReplaySummary replay, Pipeline pipeline)
    {
        _options = options;
        _lock = folderLock;
        _wal = wal;
        _decoders = decoders;
        Budget = budget;
        _logger = logger;
        _replay = replay;
        _pipeline = pipeline;
        Hot = new Hot.HotIndex(pipeline.Assembler, pipeline.Sealer, pipeline.Catalog);
    }

    public TraceStoreOptions Options => _options;

    /// <summary>The ingest path's memory budget. A server may reserve a request's announced size here before reading its
    /// body (and pass nothing more to the store than it reserved); the store itself reserves on every ingest.</summary>
    public MemoryBudget Budget { get; }

    /// <summary>The maintenance loop (tests run its rounds at chosen moments).</summary>
    internal StoreMaintenance Maintenance => _pipeline.Maintenance;

    /// <summary>The committed segments and the mutable state beside them (for the query layer).</summary>
    public Catalog.SegmentCatalog Catalog => _pipeline.Catalog;

    /// <summary>The traces not yet in a committed segment, for reads that must see them (get-trace, search); read it
    /// before <see cref="Catalog"/> (see <see cref="Hot.HotIndex"/>).</summary>
    public Hot.HotIndex Hot { get; }

    /// <summary>False once the WAL stopped after a storage failure: no more writes until restart.</summary>
    public bool IsHealthy => _wal.IsHealthy;

    /// <summary>
    /// Opens (or creates) the store in <see cref="TraceStoreOptions.DataDirectory"/>: takes the folder's lock, recovers
    /// the WAL (a torn tail from a crash is cut off with a warning; corruption elsewhere throws
    /// <see cref="WalCorruptionException"/>, see <c>tracestore verify</c>), replays it, and continues it.
    /// </summary>
    public static TraceStore Open(TraceStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Directory.CreateDirectory(options.DataDirectory);
        var logger = options.LoggerFactory?.CreateLogger<TraceStore>() ?? NullLogger<TraceStore>.Instance;
        var folderLock = DataFolderLock.Acquire(options.DataDirectory);
        var decoders = new DecoderPool(options.Decoder, options.MaxConcurrentDecodes);
        Pipeline? pipeline = null;
        try
        {
            var budget = new MemoryBudget(options.MemoryBudgetBytes, options.HighWatermarkFraction);
            pipeline = Pipeline.Open(options, budget, logger);
            var storage = options.WalStorage ?? new FileWalStorage(Path.Combine(options.DataDirectory, "wal"));
            var replay = Replay(storage, options, budget, pipeline, logger);
            var wal = WalWriter.Open(storage, options.Wal, replay.NextSequence);
            pipeline.Start(wal);
            return new TraceStore(options, folderLock, wal, decoders, budget, logger, replay, pipeline);
        }
        catch
        {
            pipeline?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            decoders.Dispose();
            folderLock.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Seals every open trace now and writes what is pending as a segment (offline loads, <c>tracestore seal</c>,
    /// tests). Returns the number of traces written.
    /// </summary>
    public int SealAll() => _pipeline.Sealer.SealNow(everything: true);

    /// <summary>
    /// Runs a compaction pass now, on this thread (tests, <c>tracestore compact</c>): drops segments whose traces are all
    /// deleted, rewrites those with many deleted, merges small ones until fewer than two are left, folds tag changes
    /// into what it writes, deletes replaced folders no reader still uses, and purges deletions that have done their
    /// work. Waits for a background pass in progress. Ingest goes on meanwhile.
    /// </summary>
    public CompactionResult CompactNow() => _pipeline.Maintenance.CompactNow();

    /// <summary>
    /// Applies the retention policies now (<see cref="TraceStoreOptions.Retention"/>): traces beyond them are marked
    /// deleted (reads no longer see them) and segments left without a live trace are dropped; partly deleted segments
    /// are rewritten by compaction. Waits for a background pass in progress.
    /// </summary>
    public RetentionResult EnforceRetentionNow() => _pipeline.Maintenance.EnforceRetentionNow();

    /// <summary>The bytes charged to an experiment's live traces, as retention's byte cap counts them
    /// (<see cref="RetentionPolicy"/>).</summary>
    public long ExperimentBytes(string experimentId) => _pipeline.Maintenance.ExperimentBytes(experimentId);

    /// <summary>
    /// Ingests one OTLP export request for <paramref name="experimentId"/> (null: the default experiment). Never waits
    /// for memory: when the budget cannot take the request it is refused as <see cref="IngestOutcome.Overloaded"/> with
    /// a retry-after estimate. Bad input comes back as <see cref="IngestOutcome.Rejected"/>; storage failures as
    /// <see cref="IngestOutcome.Unavailable"/>. The body must not change until the returned task completes.
    /// </summary>
    public ValueTask<IngestResult> IngestAsync(OtlpPayload payload, string? experimentId = null, CancellationToken cancellationToken = default) =>
        IngestCoreAsync(payload, experimentId, waitForBudget: false, cancellationToken);

    /// <summary>
    /// Like <see cref="IngestAsync"/>, but waits for room in the memory budget instead of refusing: for offline bulk
    /// loads, where the caller would only retry. Never returns <see cref="IngestOutcome.Overloaded"/>.
    /// </summary>
    public ValueTask<IngestResult> IngestWaitingAsync(OtlpPayload payload, string? experimentId = null, CancellationToken cancellationToken = default) =>
        IngestCoreAsync(payload, experimentId, waitForBudget: true, cancellationToken);

    public TraceStoreStats GetStats()
    {
        var segments = _pipeline.Catalog.Segments();
        return Counters() with
        {
            Segments = segments.Count,
            SealedTraces = segments.Sum(s => s.Traces),
            SealedSpans = segments.Sum(s => s.Spans),
            SegmentBytes = segments.Sum(s => s.Bytes),
            SegmentsCompacted = _pipeline.Maintenance.SegmentsCompacted,
            CompactionRoundsDeferred = _pipeline.Maintenance.RoundsDeferred,
            Experiments = [.. segments.SelectMany(s => s.Experiments).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)],
            WalBytes = WalFolderBytes(),
        };
    }

    private long WalFolderBytes()
    {
        var folder = Path.Combine(_options.DataDirectory, "wal");
        return _options.WalStorage is null && Directory.Exists(folder)
            ? Directory.GetFiles(folder, "wal-*.log").Sum(f => new FileInfo(f).Length)
            : 0;
    }

    private TraceStoreStats Counters() => new()
    {
        Healthy = _wal.IsHealthy,
        Problem = _wal.Failure?.Message,
        AcceptedRequests = Volatile.Read(ref _counters.AcceptedRequests),
        RejectedRequests = Volatile.Read(ref _counters.RejectedRequests),
        OverloadedRequests = Volatile.Read(ref _counters.OverloadedRequests),
        UnavailableRequests = Volatile.Read(ref _counters.UnavailableRequests),
        AcceptedSpans = Volatile.Read(ref _counters.AcceptedSpans),
        RejectedSpans = Volatile.Read(ref _counters.RejectedSpans),
        AcceptedBytes = Volatile.Read(ref _counters.AcceptedBytes),
        ReplayedRecords = _replay.Records,
        ReplayedSpans = _replay.Spans,
        ReplayedBytes = _replay.Bytes,
        LastWalSequence = Math.Max(_replay.NextSequence - 1, Volatile.Read(ref _counters.LastSequence)),
        OpenTraces = _pipeline.Assembler.OpenTraces,
        SegmentsWritten = _pipeline.Sealer.SegmentsWritten,
        DuplicateSpans = Volatile.Read(ref _counters.DuplicateSpans),
        MemoryUsedBytes = Budget.UsedBytes,
        MemoryPeakBytes = Budget.PeakBytes,
        MemoryBudgetBytes = Budget.LimitBytes,
        SealProblem = _pipeline.Sealer.LastError?.Message,
    };

    /// <summary>Waits for appends in progress, fsyncs and closes the WAL, and releases the folder.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Open traces are not sealed at close: they are in the WAL and come back at the next open.
        await _pipeline.DisposeAsync().ConfigureAwait(false);
        await _wal.DisposeAsync().ConfigureAwait(false);
        _decoders.Dispose();
        _lock.Dispose();
    }

    private async ValueTask<IngestResult> IngestCoreAsync(OtlpPayload payload, string? experimentId, bool waitForBudget, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var experiment = experimentId ?? _options.DefaultExperimentId;
        if (IngestValidation.ExperimentIdProblem(experiment) is { } problem)
        {
            Interlocked.Increment(ref _counters.RejectedRequests);
            return IngestResult.Rejected(problem);
        }

        if (!_wal.IsHealthy)
        {
            Interlocked.Increment(ref _counters.UnavailableRequests);
            return IngestResult.Unavailable($"The store is unhealthy and accepts no writes: {_wal.Failure?.Message}", retryable: false);
        }

        var reserved = Math.Min(EstimateFootprint(payload), Budget.LimitBytes);
        if (!await ReserveAsync(reserved, waitForBudget, cancellationToken).ConfigureAwait(false))
        {
            return Overloaded(reserved);
        }

        SpanBatch? batch = null;
        try
        {
            batch = _decoders.RentBatch();
            if (await DecodeAsync(payload, batch, cancellationToken).ConfigureAwait(false) is { } error)
            {
                Interlocked.Increment(ref _counters.RejectedRequests);
                return IngestResult.Rejected(error);
            }

            // Correct the estimate to what the request really holds: its body, its decoded batch, and room for the
            // assembler's copy of the spans (about the batch again), which the reservation turns into once logged.
            var actual = payload.Body.Length + (2 * DecoderPool.Footprint(batch));
            if (actual < reserved)
            {
                Budget.Release(reserved - actual);
                reserved = actual;
            }
            else if (actual > reserved)
            {
                if (!await ReserveAsync(actual - reserved, waitForBudget, cancellationToken).ConfigureAwait(false))
                {
                    return Overloaded(actual - reserved);
                }

                reserved = actual;
            }

            var reservation = new Reservation(reserved);
            reserved = 0;
            try
            {
                return await LogAsync(payload, experiment, batch, reservation).ConfigureAwait(false);
            }
            finally
            {
                Budget.Release(reservation.Take());
            }
        }
        finally
        {
            if (batch is not null)
            {
                _decoders.ReturnBatch(batch);
            }

            Budget.Release(reserved);
        }
    }

    private async ValueTask<bool> ReserveAsync(long bytes, bool wait, CancellationToken cancellationToken)
    {
        if (wait)
        {
            await Budget.ReserveAsync(bytes, cancellationToken).ConfigureAwait(false);
            return true;
        }

        return Budget.TryReserve(bytes);
    }

    private IngestResult Overloaded(long bytes)
    {
        Interlocked.Increment(ref _counters.OverloadedRequests);
        var retryAfter = Budget.EstimateRetryAfter(bytes);
        return IngestResult.Overloaded(
            retryAfter,
            $"The store is overloaded: its memory budget of {Budget.LimitBytes} bytes is {Budget.UsedBytes} bytes full. Retry after {retryAfter.TotalSeconds:0.#} s.");
    }

    private async ValueTask<OtlpDecodeException?> DecodeAsync(OtlpPayload payload, SpanBatch batch, CancellationToken cancellationToken)
    {
        var decoder = await _decoders.RentDecoderAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            decoder.Decode(new ReadOnlySequence<byte>(payload.Body), payload.Format, payload.Encoding, batch);
            return null;
        }
        catch (OtlpDecodeException e)
        {
            return e;
        }
        finally
        {
            _decoders.ReturnDecoder(decoder);
        }
    }

    private async ValueTask<IngestResult> LogAsync(OtlpPayload payload, string experiment, SpanBatch batch, Reservation reservation)
    {
        var spans = batch.Spans.Count;
        if (spans == 0)
        {
            // Nothing valid to keep (an empty request, or every span refused): answer without logging.
            Interlocked.Increment(ref _counters.AcceptedRequests);
            Interlocked.Add(ref _counters.RejectedSpans, batch.RejectedSpans);
            return IngestResult.Accepted(0, batch.RejectedSpans, batch.FirstRejection, walSequence: 0);
        }

        long sequence;
        var inFlight = _pipeline.InFlight.Enter(_wal.NextSequence);
        try
        {
            try
            {
                var entry = new WalEntry(experiment, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), payload.WalFormat, payload.WalEncoding, payload.Body);
                sequence = await _wal.AppendAsync(entry).ConfigureAwait(false);
            }
            catch (WalUnavailableException e)
            {
                Interlocked.Increment(ref _counters.UnavailableRequests);
                if (!e.Retryable)
                {
                    EngineLog.WalStopped(_logger, e.InnerException?.Message ?? e.Message);
                }

                return IngestResult.Unavailable(e.Message, e.Retryable);
            }

            // The request's reservation becomes the assembler's copy of the spans: the request's bytes are given back
            // and the copy counted instead (forced: the spans are durable and cannot be refused now).
            var added = _pipeline.Assembler.Add(batch, experiment, sequence, reserveGrowth: false);
            Budget.Release(reservation.Take());
            Budget.ForceReserve(added.GrownBytes);
            Interlocked.Add(ref _counters.DuplicateSpans, added.Duplicates);
        }
        finally
        {
            _pipeline.InFlight.Exit(inFlight);
        }

        Interlocked.Increment(ref _counters.AcceptedRequests);
        Interlocked.Add(ref _counters.AcceptedSpans, spans);
        Interlocked.Add(ref _counters.RejectedSpans, batch.RejectedSpans);
        Interlocked.Add(ref _counters.AcceptedBytes, payload.Body.Length);
        AtomicMax.Raise(ref _counters.LastSequence, sequence);
        return IngestResult.Accepted(spans, batch.RejectedSpans, batch.FirstRejection, sequence);
    }

    private long EstimateFootprint(OtlpPayload payload)
    {
        var body = (long)payload.Body.Length;
        var expansion = payload.Encoding == Protocol.Content.OtlpContentEncoding.Identity ? IdentityExpansion : CompressedExpansion;
        return Math.Min(body * expansion, body + (2 * _options.Decoder.MaxMessageBytes));
    }

    /// <summary>
    /// Reads the whole WAL back, one record at a time through one decoder and one batch, so replay stays within a
    /// small bound whatever the log's size. Size limits are lifted (the record was admitted under the limits of its
    /// day); the attribute depth stays, because it decides which spans were kept.
    /// </summary>
    private static ReplaySummary Replay(IWalStorage storage, TraceStoreOptions options, MemoryBudget budget, Pipeline pipeline, ILogger logger)
    {
        var neededFrom = pipeline.Catalog.WalNeededFrom();
        var started = Stopwatch.GetTimestamp();
        using var decoder = new OtlpRequestDecoder(options.Decoder with { MaxMessageBytes = int.MaxValue, MaxSpansPerRequest = int.MaxValue });
        var batch = new SpanBatch();
        long spans = 0;
        var result = WalRecovery.Scan(
            storage,
            (sequence, entry) =>
            {
                if (sequence < neededFrom)
                {
                    // Verified by the scan; its spans are all in committed segments already.
                    return;
                }

                var payload = OtlpPayload.FromWal(entry);
                var reserved = budget.TryReserve(payload.Body.Length) ? payload.Body.Length : 0;
                try
                {
                    decoder.Decode(new ReadOnlySequence<byte>(payload.Body), payload.Format, payload.Encoding, batch);
                    spans += batch.Spans.Count;
                    pipeline.Assembler.Add(batch, entry.ExperimentId, sequence);
                    if (budget.IsAboveHighWatermark)
                    {
                        pipeline.Sealer.SealNow();
                    }
                }
                catch (OtlpDecodeException e)
                {
                    EngineLog.ReplayRecordRefused(logger, sequence, e.Message);
                }
                finally
                {
                    budget.Release(reserved);
                }
            },
            repairTornTail: true);
        if (result.TornTail is { } torn)
        {
            EngineLog.TornTailTruncated(logger, torn.Segment, torn.Offset, torn.DroppedBytes, torn.Reason);
        }

        var elapsedMs = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        EngineLog.Replayed(logger, result.Records, result.Bytes, spans, elapsedMs);
        return new ReplaySummary(result.Records, result.Bytes, spans, result.NextSequence);
    }

    /// <summary>Bytes a request holds in the budget, handed from one stage to the next and released exactly once.</summary>
    private sealed class Reservation(long bytes)
    {
        private long _bytes = bytes;

        public long Take() => Interlocked.Exchange(ref _bytes, 0);
    }

    private sealed record ReplaySummary(long Records, long Bytes, long Spans, long NextSequence);

    /// <summary>Plain fields so they can be updated with <see cref="Interlocked"/>.</summary>
    private sealed class IngestCounters
    {
        public long AcceptedRequests;
        public long RejectedRequests;
        public long OverloadedRequests;
        public long UnavailableRequests;
        public long AcceptedSpans;
        public long RejectedSpans;
        public long AcceptedBytes;
        public long LastSequence;
        public long DuplicateSpans;
    }
}
