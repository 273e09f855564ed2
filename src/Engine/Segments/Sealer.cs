using TraceStore.DuckDb;
using Microsoft.Extensions.Logging;
using TraceStore.Engine.Admission;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Traces;

namespace TraceStore.Engine.Segments;

/// <summary>
/// Moves finished traces from the assembler into segments: collects what the completion policy says is due (and the
/// oldest traces when memory passes the high watermark), batches them by size and time, writes a segment, commits it
/// to the catalog, gives the memory back, and lets the WAL checkpoint advance to the lowest sequence still needed.
/// Runs on its own loop; <see cref="SealNow"/> does one round synchronously (replay, flush, tests).
/// <para>A failed write (a full disk) keeps the traces pending, still counted in the memory budget, and is retried on
/// the next round: nothing is lost, since the WAL still holds every one of them.</para>
/// </summary>
public sealed class Sealer : IAsyncDisposable
{
    private readonly SpanAssembler _assembler;
    private readonly MemoryBudget _budget;
    private readonly SegmentWriter _writer;
    private readonly SegmentCatalog _catalog;
    private readonly Action _checkpoint;
    private readonly SealerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private readonly KeptTraceParts _kept;
    private HashSet<TraceKey> _moreExpected = [];
    private readonly List<SealedTrace> _pending = [];

    // Held only while traces move from the assembler into _pending and the snapshot is published (never during a
    // write), so a reader that reads the assembler and then the snapshot under it cannot fall between the two.
    private readonly object _handoff = new();
    private volatile SealedTrace[] _pendingSnapshot = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _wake = new(0, 1);
    private Task _loop = Task.CompletedTask;
    private long _pendingSpans;
    private long _oldestPendingTicks = long.MaxValue;
    private long _segmentsWritten;
    private Exception? _lastError;
    private DuckDbDatabase? _loaderDatabase;
    private DuckDbConnection? _loader;

    /// <param name="checkpoint">Called after each commit (under the sealer's lock, nothing pending) to let the WAL
    /// checkpoint advance.</param>
    public Sealer(SpanAssembler assembler, MemoryBudget budget, SegmentWriter writer, SegmentCatalog catalog, Action checkpoint, SealerOptions options, ILogger logger, TimeProvider? time = null)
    {
        _assembler = assembler;
        _budget = budget;
        _kept = new KeptTraceParts(budget);
        _writer = writer;
        _catalog = catalog;
        _checkpoint = checkpoint;
        _options = options.Validate();
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    public long SegmentsWritten => Interlocked.Read(ref _segmentsWritten);

    /// <summary>The last write failure, until a write succeeds again.</summary>
    public Exception? LastError => Volatile.Read(ref _lastError);

    /// <summary>Starts the background loop.</summary>
    public void Start() => _loop = Task.Run(RunAsync);

    /// <summary>Wakes the loop early (memory pressure).</summary>
    public void Signal()
    {
        try
        {
            if (_wake.CurrentCount == 0)
            {
                _wake.Release();
            }
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
    }

    /// <summary>
    /// The traces taken from the assembler and not yet committed, oldest first: an immutable snapshot (their buffers
    /// never change once taken), published when traces are taken and again after each commit removes some. Waits
    /// only for a hand-off in progress (traces leaving the assembler), never for a segment write. A reader that reads
    /// the assembler, then this, then the catalog misses no trace: a trace leaves the assembler and enters the
    /// snapshot within one hand-off, and leaves the snapshot only after its segment is committed (docs/reads.md).
    /// </summary>
    public IReadOnlyList<SealedTrace> PendingSnapshot()
    {
        lock (_handoff)
        {
            return _pendingSnapshot;
        }
    }

    /// <summary>Lowest WAL sequence a trace taken from the assembler but not yet committed holds (long.MaxValue: none).</summary>
    public long LowestPendingWalSequence()
    {
        lock (_gate)
        {
            return _pending.Count == 0 ? long.MaxValue : _pending.Min(t => t.Buffer.LowestWalSequence);
        }
    }

    /// <summary>
    /// One round, synchronously: collects due traces (every open trace when <paramref name="everything"/>), and
    /// writes the pending ones as a segment if a threshold is reached, memory is under pressure, or
    /// <paramref name="everything"/>. Returns the number of traces written.
    /// </summary>
    public int SealNow(bool everything = false)
    {
        lock (_gate)
        {
            // Each take is one hand-off: out of the assembler and into the pending snapshot under _handoff.
            lock (_handoff)
            {
                Collect(everything ? _assembler.TakeAll() : _assembler.TakeDue());
            }

            var pressure = _budget.IsAboveHighWatermark;
            if (pressure)
            {
                var target = (long)(_budget.LimitBytes * _options.PressureTargetFraction);
                // At least the oldest trace goes, even when the target is above the watermark.
                lock (_handoff)
                {
                    Collect(_assembler.TakeOldest(Math.Max(1, _budget.UsedBytes - target)));
                }
            }

            var waited = _pending.Count == 0 ? TimeSpan.Zero : _time.GetElapsedTime(_oldestPendingTicks);
            if (_pending.Count == 0 || !(everything || pressure || _pendingSpans >= _options.SegmentTargetSpans || waited >= _options.SegmentMaxDelay))
            {
                return 0;
            }

            return WritePending();
        }
    }

    /// <summary>Stops the loop. Traces still open stay in the WAL and come back at the next open; pending ones too.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stopping.Dispose();
        _wake.Dispose();
        _loader?.Dispose();
        _loaderDatabase?.Dispose();
    }

    private async Task RunAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                await _wake.WaitAsync(_options.Interval, _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            SealNow();
        }
    }

    /// <summary>
    /// The buffers to write, one per trace (<see cref="WritePending"/> puts at most one part of a trace in a segment),
    /// each with its summary: a segment holds each trace once, with one summary. A trace that already has parts in
    /// committed segments (late spans, retries after its seal, a trace sealed in parts) gets only its spans that are
    /// not stored yet, and a summary that covers every part: <see cref="TraceSummaryMerger"/> extends the summary
    /// sealed last with them, from a light read of the earlier parts (<see cref="SealedTraceParts"/>: ids, parents,
    /// usage and sizes, counted in the budget while held). The summary sealed now supersedes the earlier ones. A trace
    /// whose spans are all stored already (a retry of a sealed request) has nothing to write and is left out.
    /// </summary>
    private (List<TraceBuffer> Buffers, List<TraceSummary> Summaries, List<SealedTraceParts?> Earlier) WithEarlierParts(IReadOnlyList<TraceBuffer> pending)
    {
        var ids = new List<string>(pending.Count);
        var traces = new List<TraceBuffer>(pending.Count);
        var keys = new HashSet<TraceKey>(pending.Count);
        foreach (var part in pending)
        {
            if (!keys.Add(part.Key))
            {
                throw new InvalidOperationException($"Two parts of trace {SegmentIds.TraceIdText(part.Key.TraceId)} in one segment.");
            }

            traces.Add(part);
            ids.Add(SegmentIds.TraceIdText(part.Key.TraceId));
        }

        var sealedParts = _catalog.SegmentsHoldingEach(ids);
        var buffers = new List<TraceBuffer>(traces.Count);
        var summaries = new List<TraceSummary>(traces.Count);
        var earliers = new List<SealedTraceParts?>(traces.Count);
        for (var i = 0; i < traces.Count; i++)
        {
            var buffer = traces[i];
            if (!sealedParts.TryGetValue(ids[i], out var segments))
            {
                buffers.Add(buffer);
                summaries.Add(TraceSummaryBuilder.Build(buffer));
                earliers.Add(null);
                continue;
            }

            // A large trace's parts as the sealer left them after its last part, if nothing was sealed or compacted
            // for it since; else read back.
            var cached = KeptParts(buffer.Key, segments, ids[i]);
            var earlier = cached ?? SealedTraceParts.Load(Loader(), segments, ids[i]);
            if (earlier is null)
            {
                buffers.Add(buffer);
                summaries.Add(TraceSummaryBuilder.Build(buffer));
                earliers.Add(null);
                continue;
            }

            var held = cached is null ? earlier.FootprintBytes : 0;
            _budget.ForceReserve(held);
            try
            {
                var fresh = earlier.WithoutStored(buffer, _time.GetTimestamp());
                if (fresh.Spans.Count > 0)
                {
                    buffers.Add(fresh);
                    summaries.Add(TraceSummaryMerger.Merge(earlier, fresh));
                    earliers.Add(earlier);
                }
            }
            finally
            {
                _budget.Release(held);
            }
        }

        return (buffers, summaries, earliers);
    }

    /// <summary>
    /// After segment <paramref name="sealSequence"/> committed: keeps what the sealed parts of each trace that expects
    /// more parts now are (<see cref="SealedTraceParts.Extend"/>; see <see cref="MoreExpected"/>, or a slice with more
    /// to come) in <see cref="KeptTraceParts"/>. A trace sealed for any other reason (complete, too old, flushed) is
    /// dropped. A trace whose segments changed otherwise (compaction) is rechecked by <see cref="KeptParts"/>.
    /// </summary>
    private void KeepLargeTraces(List<TraceBuffer> buffers, List<TraceSummary> summaries, List<SealedTraceParts?> earliers, long sealSequence)
    {
        for (var i = 0; i < buffers.Count; i++)
        {
            var key = buffers[i].Key;
            if (!_moreExpected.Contains(key))
            {
                _kept.Forget(key);
                continue;
            }

            // Batches are prefixes of _pending with one part per trace, so the first pending part of the trace is the
            // one being written (a slice of it, in WriteInSlices).
            var written = _pending.Find(t => t.Buffer.Key == key)?.Buffer;
            _kept.Keep(key, earliers[i], buffers[i], summaries[i], sealSequence, written);
        }

        _kept.Trim();
    }

    /// <summary>Whether more parts of <paramref name="trace"/> are likely: a part that filled up, or a trace sealed
    /// early under memory pressure while its root has not ended (a huge trace under a bulk client is sealed this way
    /// between its full parts).</summary>
    private static bool MoreExpected(SealedTrace trace) =>
        trace.Reason == SealReason.PartFull || (trace.Reason == SealReason.MemoryPressure && !trace.Buffer.RootEnded);

    /// <summary>
    /// The kept parts of <paramref name="key"/> if they still describe what <paramref name="segments"/> hold of it:
    /// nothing sealed for it since (the latest segment is the one they were kept at), or the latest segment is a
    /// compaction's merge of segments that held it (a merge rewrites the same spans under a new seal sequence), which
    /// the latest stored summary tells: it counts as many spans as the kept one. Null otherwise (read back).
    /// </summary>
    private SealedTraceParts? KeptParts(TraceKey key, IReadOnlyList<SegmentInfo> segments, string traceId)
    {
        var latest = segments.Max(s => s.SealSequence);
        if (!_kept.TryGet(key, out var kept) || latest < kept.CoversThroughSequence)
        {
            return null;
        }

        if (latest == kept.CoversThroughSequence)
        {
            return kept;
        }

        if (SealedTraceQueries.LatestSummaries(Loader(), [.. segments], [traceId]).TryGetValue(traceId, out var stored) && stored.Summary.SpanCount == kept.Summary.SpanCount)
        {
            kept.Recheck(latest);
            return kept;
        }

        return null;
    }

    private DuckDbConnection Loader()
    {
        if (_loader is null)
        {
            _loaderDatabase = DuckDbDatabase.OpenInMemory(new DuckDbDatabaseOptions { Threads = 1 });
            _loader = _loaderDatabase.Connect();
        }

        return _loader;
    }

    /// <summary>Adds traces just taken from the assembler to the pending ones and publishes the snapshot; called under
    /// <c>_handoff</c> together with the take (see <see cref="PendingSnapshot"/>).</summary>
    private void Collect(List<SealedTrace> traces)
    {
        foreach (var trace in traces)
        {
            _pending.Add(trace);
            _pendingSpans += trace.Buffer.Spans.Count;
        }

        if (traces.Count > 0 && _oldestPendingTicks == long.MaxValue)
        {
            _oldestPendingTicks = _time.GetTimestamp();
        }

        if (traces.Count > 0)
        {
            _pendingSnapshot = [.. _pending];
        }
    }

    /// <summary>Writes the pending traces as segments of at most <see cref="SealerOptions.MaxSegmentBufferBytes"/> of
    /// trace buffers each (the writer's DuckDB memory is bounded, and a COPY's sort needs a few times its input), oldest
    /// first. When DuckDB runs out of its memory the round retries with half as many traces, and a single trace too big
    /// to write at once is written in slices (<see cref="WriteInSlices"/>). Any other failed write stops the round;
    /// what is not written stays pending. Returns the traces written.</summary>
    private int WritePending()
    {
        var written = 0;
        var limit = int.MaxValue;
        while (_pending.Count > 0)
        {
            // A segment takes at most one part of each trace: the next part of a trace already in the batch starts the
            // next segment, so parts are written as they are, never merged into a copy first (a million-span trace
            // comes in a hundred parts, and merged copies of them were most of its resident memory).
            var count = 0;
            long bytes = 0;
            var keys = new HashSet<TraceKey>();
            while (count < _pending.Count && count < limit && (count == 0 || bytes + _pending[count].Buffer.AccountedBytes <= _options.MaxSegmentBufferBytes) && keys.Add(_pending[count].Buffer.Key))
            {
                bytes += _pending[count].Buffer.AccountedBytes;
                count++;
            }

            _moreExpected = [.. _pending.Take(count).Where(MoreExpected).Select(t => t.Buffer.Key)];
            var outcome = TryWrite([.. _pending.Take(count).Select(t => t.Buffer)]);
            if (outcome == WriteOutcome.OutOfMemory && count > 1)
            {
                limit = count / 2;
                continue;
            }

            if (outcome == WriteOutcome.OutOfMemory)
            {
                outcome = WriteInSlices(_pending[0]);
            }

            if (outcome != WriteOutcome.Written)
            {
                break;
            }

            Finish(count);
            written += count;
        }

        return written;
    }

    /// <summary>
    /// Writes one trace as consecutive segments of a slice of its spans each, halving the slice while DuckDB runs out
    /// of memory and doubling it again after each slice written, but never back to a size that failed (each failure
    /// costs a new DuckDB: measured, slices oscillating between a size that fits and its double took minutes for
    /// 9,000 spans). Each slice is a part like any other (the next one's summary extends the last), so the trace ends
    /// up whole. If a slice still fails, the slices written stay committed and the trace stays pending: the next round
    /// writes only its spans not stored yet.
    /// </summary>
    private WriteOutcome WriteInSlices(SealedTrace trace)
    {
        var buffer = trace.Buffer;
        var slice = Math.Max(1, buffer.Spans.Count / 2);
        var failed = buffer.Spans.Count;
        for (var at = 0; at < buffer.Spans.Count;)
        {
            var now = _time.GetTimestamp();
            var piece = new TraceBuffer(buffer.Key, now);
            for (var span = at; span < Math.Min(buffer.Spans.Count, at + slice); span++)
            {
                piece.AppendCopy(buffer, span, now);
            }

            // Every slice but the last is followed by another part of the same trace.
            _moreExpected = at + piece.Spans.Count < buffer.Spans.Count || MoreExpected(trace) ? [buffer.Key] : [];
            var outcome = TryWrite([piece]);
            if (outcome == WriteOutcome.OutOfMemory && slice > 1)
            {
                failed = Math.Min(failed, slice);
                slice /= 2;
                continue;
            }

            if (outcome != WriteOutcome.Written)
            {
                return outcome;
            }

            at += piece.Spans.Count;
            slice = Math.Max(slice, Math.Min(slice * 2, failed - 1));
        }

        return WriteOutcome.Written;
    }

    /// <summary>Writes <paramref name="traces"/> (with their earlier parts' summaries) as one segment and commits it.</summary>
    private WriteOutcome TryWrite(IReadOnlyList<TraceBuffer> traces)
    {
        // Held from reading the traces' earlier parts to the commit: compaction may replace those segments meanwhile,
        // but deletes neither their folders nor a deleted trace's record until this seal has committed what it read.
        using var lease = _catalog.AcquireReadLease();
        var sequence = _catalog.NextSealSequence();
        try
        {
            var (buffers, summaries, earliers) = WithEarlierParts(traces);
            if (buffers.Count > 0)
            {
                var segment = _writer.Write(sequence, buffers, summaries);
                _options.CrashPoint?.Invoke(SealerCrashPoints.SegmentWritten);
                _catalog.Commit(segment);
                _options.CrashPoint?.Invoke(SealerCrashPoints.CatalogCommitted);
                Interlocked.Increment(ref _segmentsWritten);
                KeepLargeTraces(buffers, summaries, earliers, sequence);
            }
        }
        catch (DuckDbException e) when (e.ErrorType == DuckDbErrorType.OutOfMemory)
        {
            Volatile.Write(ref _lastError, e);
            EngineLog.SealFailed(_logger, traces.Count, e.Message);
            return WriteOutcome.OutOfMemory;
        }
        catch (Exception e) when (e is IOException or DuckDbException)
        {
            Volatile.Write(ref _lastError, e);
            EngineLog.SealFailed(_logger, traces.Count, e.Message);
            return WriteOutcome.Failed;
        }

        Volatile.Write(ref _lastError, null);
        return WriteOutcome.Written;
    }

    /// <summary>The first <paramref name="count"/> pending traces are committed: gives their memory back and lets the
    /// checkpoint advance.</summary>
    private void Finish(int count)
    {
        var traces = _pending.GetRange(0, count);
        _pending.RemoveRange(0, count);

        // After the commit: a reader that no longer finds these traces here finds them in the catalog.
        _pendingSnapshot = [.. _pending];
        foreach (var trace in traces)
        {
            _pendingSpans -= trace.Buffer.Spans.Count;
            _assembler.Release(trace);
        }

        if (_pending.Count == 0)
        {
            _oldestPendingTicks = long.MaxValue;
        }

        _checkpoint();
        _options.CrashPoint?.Invoke(SealerCrashPoints.Checkpointed);
    }

    private enum WriteOutcome
    {
        Written,
        Failed,
        OutOfMemory,
    }
}
