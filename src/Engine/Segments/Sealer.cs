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
    private readonly List<SealedTrace> _pending = [];
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
            Collect(everything ? _assembler.TakeAll() : _assembler.TakeDue());
            var pressure = _budget.IsAboveHighWatermark;
            if (pressure)
            {
                var target = (long)(_budget.LimitBytes * _options.PressureTargetFraction);
                // At least the oldest trace goes, even when the target is above the watermark.
                Collect(_assembler.TakeOldest(Math.Max(1, _budget.UsedBytes - target)));
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
    /// The buffers to write, each with its summary. A trace that already has parts in committed segments (late spans,
    /// retries after its seal, a trace sealed in parts) gets only its spans that are not stored yet, and a summary
    /// that covers every part: <see cref="TraceSummaryMerger"/> extends the summary sealed last with them, from a
    /// light read of the earlier parts (<see cref="SealedTraceParts"/>: ids, parents, usage and sizes, counted in the
    /// budget while held). The summary sealed now supersedes the earlier ones. A trace whose spans are all stored
    /// already (a retry of a sealed request) has nothing to write and is left out.
    /// </summary>
    private (List<TraceBuffer> Buffers, List<TraceSummary> Summaries) WithEarlierParts(List<SealedTrace> pending)
    {
        var ids = new List<string>(pending.Count);
        foreach (var trace in pending)
        {
            ids.Add(SegmentIds.TraceIdText(trace.Buffer.Key.TraceId));
        }

        var parts = _catalog.SealedParts(ids);
        var buffers = new List<TraceBuffer>(pending.Count);
        var summaries = new List<TraceSummary>(pending.Count);
        if (parts.Count == 0)
        {
            foreach (var trace in pending)
            {
                buffers.Add(trace.Buffer);
                summaries.Add(TraceSummaryBuilder.Build(trace.Buffer));
            }

            return (buffers, summaries);
        }

        var segments = _catalog.Segments().ToDictionary(s => s.SealSequence);
        if (_loader is null)
        {
            _loaderDatabase = DuckDbDatabase.OpenInMemory(new DuckDbDatabaseOptions { Threads = 1 });
            _loader = _loaderDatabase.Connect();
        }

        for (var i = 0; i < pending.Count; i++)
        {
            var buffer = pending[i].Buffer;
            var earlier = parts.TryGetValue(ids[i], out var sequences)
                ? SealedTraceParts.Load(_loader, [.. sequences.Select(sequence => segments[sequence])], ids[i])
                : null;
            if (earlier is null)
            {
                buffers.Add(buffer);
                summaries.Add(TraceSummaryBuilder.Build(buffer));
                continue;
            }

            var held = earlier.FootprintBytes;
            _budget.ForceReserve(held);
            try
            {
                var fresh = WithoutStored(buffer, earlier);
                if (fresh.Spans.Count > 0)
                {
                    buffers.Add(fresh);
                    summaries.Add(TraceSummaryMerger.Merge(earlier, fresh));
                }
            }
            finally
            {
                _budget.Release(held);
            }
        }

        return (buffers, summaries);
    }

    /// <summary><paramref name="buffer"/> itself when none of its spans is stored already, else a copy of the ones
    /// that are not (transient, not counted in the budget; at most the buffer's own size).</summary>
    private TraceBuffer WithoutStored(TraceBuffer buffer, SealedTraceParts earlier)
    {
        var stored = 0;
        foreach (ref readonly var span in buffer.Spans.AsSpan())
        {
            stored += earlier.Contains(span.SpanId.Value) ? 1 : 0;
        }

        if (stored == 0)
        {
            return buffer;
        }

        var now = _time.GetTimestamp();
        var fresh = new TraceBuffer(buffer.Key, now);
        for (var span = 0; span < buffer.Spans.Count; span++)
        {
            if (!earlier.Contains(buffer.Spans[span].SpanId.Value))
            {
                fresh.AppendCopy(buffer, span, now);
            }
        }

        return fresh;
    }

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
    }

    /// <summary>Writes the pending traces as segments of at most <see cref="SealerOptions.MaxSegmentBufferBytes"/> of
    /// trace buffers each (the writer's DuckDB memory is bounded, and a COPY's sort needs a few times its input), oldest
    /// first. A failed write stops the round; what is not written stays pending. Returns the traces written.</summary>
    private int WritePending()
    {
        var written = 0;
        while (_pending.Count > 0)
        {
            var count = 0;
            long bytes = 0;
            while (count < _pending.Count && (count == 0 || bytes + _pending[count].Buffer.AccountedBytes <= _options.MaxSegmentBufferBytes))
            {
                bytes += _pending[count].Buffer.AccountedBytes;
                count++;
            }

            if (!WriteSegment(count))
            {
                break;
            }

            written += count;
        }

        return written;
    }

    /// <summary>Writes the first <paramref name="count"/> pending traces as one segment, commits it, gives their memory
    /// back and lets the checkpoint advance. False (the traces stay pending) when the write failed.</summary>
    private bool WriteSegment(int count)
    {
        var sequence = _catalog.NextSealSequence();
        var traces = _pending.GetRange(0, count);
        try
        {
            var (buffers, summaries) = WithEarlierParts(traces);
            if (buffers.Count > 0)
            {
                var segment = _writer.Write(sequence, buffers, summaries);
                _catalog.Commit(segment);
            }
        }
        catch (Exception e) when (e is IOException or DuckDbException)
        {
            Volatile.Write(ref _lastError, e);
            EngineLog.SealFailed(_logger, count, e.Message);
            return false;
        }

        Volatile.Write(ref _lastError, null);
        Interlocked.Increment(ref _segmentsWritten);
        _pending.RemoveRange(0, count);
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
        return true;
    }
}
