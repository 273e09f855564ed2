using TraceStore.Engine.Assembly;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Segments;
using TraceStore.Protocol.Model;

namespace TraceStore.Engine.Hot;

/// <summary>
/// Reads of the traces not yet in a committed segment: the assembler's open buffers and filled parts, and the
/// sealer's pending traces (taken from the assembler, being written). A trace moves assembler → pending → committed
/// segment; a reader that looks in that order never misses it (docs/reads.md, "The hot index"):
/// <list type="number">
/// <item>The assembler, shard by shard under each shard's lock: open buffers and filled parts (references).</item>
/// <item>The sealer's pending snapshot (<see cref="Sealer.PendingSnapshot"/>): a trace leaves the assembler and
/// enters it within one hand-off, which that read waits out, so a trace gone from the assembler in step 1 is here.</item>
/// <item>Then the caller reads the catalog: a trace leaves the pending snapshot only after its segment is committed,
/// so one gone from step 2 is there.</item>
/// </list>
/// A trace can be seen twice (read in the assembler, then taken and seen pending; pending and just committed):
/// readers keep each span once by span id, and the hot summary supersedes the sealed ones. The snapshot is not a
/// point in time: each shard is read at its own moment, and spans arriving during a read may or may not be in it.
/// Thread-safe: readers take the assembler's shard locks only briefly and never the sealer's write lock.
/// </summary>
public sealed class HotIndex
{
    /// <summary>The <c>seal_sequence</c> of hot summary rows in SQL: above every real one, so "the latest summary of a
    /// trace" picks the hot row, which covers its sealed parts too.</summary>
    public const long HotSealSequence = long.MaxValue;

    private readonly SpanAssembler _assembler;
    private readonly Sealer _sealer;

    public HotIndex(SpanAssembler assembler, Sealer sealer, SegmentCatalog catalog)
    {
        _assembler = assembler;
        _sealer = sealer;
        Catalog = catalog;
    }

    /// <summary>The catalog to read after a hot snapshot (step 3 above).</summary>
    public SegmentCatalog Catalog { get; }

    /// <summary>Test seam: runs between the assembler read and the pending read, so a test can move traces along the
    /// pipeline exactly there.</summary>
    internal Action? AfterAssemblerRead { get; set; }

    /// <summary>Test seam: runs after a hot snapshot is complete, before the caller reads the catalog.</summary>
    internal Action? AfterSnapshot { get; set; }

    /// <summary>The unsealed parts of trace <paramref name="traceId"/>, or null when it has none. Read the catalog after
    /// this call, not before; dispose the result when done with it and with what its <see cref="HotTrace.Read"/>
    /// returned (the parts are pinned until then).</summary>
    public HotTrace? Find(TraceId traceId)
    {
        var held = _assembler.Parts(traceId);
        AfterAssemblerRead?.Invoke();
        var pending = _sealer.PendingSnapshot();
        var parts = new List<TraceBuffer>();
        foreach (var trace in pending)
        {
            if (trace.Buffer.Key.TraceId == traceId)
            {
                parts.Add(trace.Buffer);
            }
        }

        foreach (var part in held)
        {
            if (!parts.Contains(part))
            {
                parts.Add(part);
            }
        }

        var pinned = Pinned(parts);
        AfterSnapshot?.Invoke();
        return pinned.Count == 0 ? null : new HotTrace(traceId, pinned, _assembler);
    }

    /// <summary>Every trace with unsealed parts whose key passes <paramref name="include"/> (all when null), in no
    /// particular order. References only: each trace's spans are copied when it is <see cref="HotTrace.Read"/>. Read the
    /// catalog after this call, not before; dispose each trace when done with it (its parts are pinned until
    /// then).</summary>
    public IReadOnlyList<HotTrace> Snapshot(Func<TraceKey, bool>? include = null)
    {
        var held = _assembler.Parts(include);
        AfterAssemblerRead?.Invoke();
        var pending = _sealer.PendingSnapshot();

        // Pending parts are older than the assembler's: they come first, so the copy of a span stored first wins.
        var byTrace = new Dictionary<TraceId, List<TraceBuffer>>();
        var seen = new HashSet<TraceBuffer>(ReferenceEqualityComparer.Instance);
        foreach (var part in pending.Select(t => t.Buffer).Where(b => include is null || include(b.Key)).Concat(held))
        {
            if (seen.Add(part))
            {
                (byTrace.TryGetValue(part.Key.TraceId, out var parts) ? parts : byTrace[part.Key.TraceId] = []).Add(part);
            }
        }

        var traces = new List<HotTrace>(byTrace.Count);
        foreach (var (traceId, parts) in byTrace)
        {
            if (Pinned(parts) is { Count: > 0 } pinned)
            {
                traces.Add(new HotTrace(traceId, pinned, _assembler));
            }
        }

        AfterSnapshot?.Invoke();
        return traces;
    }

    /// <summary>The parts a reader may hold, each pinned (<see cref="TraceBuffer.TryPin"/>) until the
    /// <see cref="HotTrace"/> is disposed, so their arrays are not reused for another part meanwhile. A part that
    /// cannot be pinned was committed and released since it was seen (a part leaves the pending snapshot only after
    /// its commit): left out, its spans are in the catalog the caller reads next.</summary>
    private static List<TraceBuffer> Pinned(List<TraceBuffer> parts)
    {
        var pinned = new List<TraceBuffer>(parts.Count);
        foreach (var part in parts)
        {
            if (part.TryPin())
            {
                pinned.Add(part);
            }
        }

        return pinned;
    }
}
