using TraceStore.Engine.Assembly;
using TraceStore.Protocol.Model;

namespace TraceStore.Engine.Hot;

/// <summary>
/// The unsealed parts of one trace as a <see cref="HotIndex"/> snapshot found them, oldest first: parts the sealer has
/// taken and not yet committed, filled parts waiting in the assembler, then the open buffer. Cheap to hold (references
/// only); <see cref="Read"/> gives the spans. The parts are pinned (<see cref="TraceBuffer.TryPin"/>) from the snapshot
/// until <see cref="Dispose"/>: until then, what <see cref="Read"/> returned may be read, and no part's arrays are
/// reused for another part (<see cref="PartArrayPool"/>). Not disposing only keeps those arrays from being reused.
/// </summary>
public sealed class HotTrace : IDisposable
{
    private readonly IReadOnlyList<TraceBuffer> _parts;
    private readonly SpanAssembler _assembler;
    private int _disposed;

    internal HotTrace(TraceId traceId, IReadOnlyList<TraceBuffer> parts, SpanAssembler assembler)
    {
        TraceId = traceId;
        _parts = parts;
        _assembler = assembler;
    }

    public TraceId TraceId { get; }

    /// <summary>MLflow's id of the trace: <c>tr-</c> and 32 lowercase hex digits.</summary>
    public string MlflowId => TraceId.ToMlflowId();

    /// <summary>The experiment and id of the oldest part (a trace id belongs to one experiment; parts of the same id sent
    /// to another experiment are read as the same trace).</summary>
    public TraceKey Key => _parts[0].Key;

    public int PartCount => _parts.Count;

    /// <summary>
    /// Every unsealed span of the trace once (the copy stored first wins, as in the assembler and the sealer), in a
    /// buffer no one else changes: the one part itself when it is no longer open, else a copy. An open part is copied
    /// under its assembler shard's lock, so it includes the spans that arrived since the snapshot. Not counted in the
    /// memory budget: the caller holds it for one read.
    /// </summary>
    public TraceBuffer Read()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var first = _assembler.Stable(_parts[0]);
        if (_parts.Count == 1)
        {
            return first;
        }

        var merged = new TraceBuffer(first.Key, first.FirstSeenTicks);
        AppendAll(merged, first);
        for (var i = 1; i < _parts.Count; i++)
        {
            AppendAll(merged, _assembler.Stable(_parts[i]));
        }

        return merged;
    }

    /// <summary>Unpins the parts: neither they nor a buffer <see cref="Read"/> returned may be read afterwards.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        foreach (var part in _parts)
        {
            part.Unpin();
        }
    }

    private static void AppendAll(TraceBuffer merged, TraceBuffer part)
    {
        for (var i = 0; i < part.Spans.Count; i++)
        {
            merged.AppendCopy(part, i, part.LastSpanTicks);
        }
    }
}
