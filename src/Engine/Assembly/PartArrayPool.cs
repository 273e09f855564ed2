using System.Runtime.CompilerServices;
using TraceStore.Engine.Admission;
using TraceStore.Protocol.Model;

namespace TraceStore.Engine.Assembly;

/// <summary>The arrays of a retired <see cref="TraceBuffer"/> (<see cref="TraceBuffer.TryRetire"/>), to be reused by
/// the next part of a large trace. The span index is empty; the arrays hold stale records, overwritten as the new part
/// fills them.</summary>
internal sealed record PartArrays(StoredSpan[] Spans, StoredKeyValue[] Attributes, StoredEvent[] Events, byte[] Arena, Dictionary<SpanId, int> SpanIndex)
{
    /// <summary>What a buffer over these arrays counts while empty (<see cref="TraceBuffer.FootprintBytes"/>).</summary>
    public long Bytes =>
        Arena.Length
        + ((long)Spans.Length * Unsafe.SizeOf<StoredSpan>())
        + ((long)Attributes.Length * Unsafe.SizeOf<StoredKeyValue>())
        + ((long)Events.Length * Unsafe.SizeOf<StoredEvent>())
        + 256;
}

/// <summary>
/// The arrays of the last parts of large traces, kept when the sealer releases them and handed to the next part of a
/// trace whose last part filled up, so a trace sealed in a hundred parts allocates its parts' arrays (each well over
/// the 85,000 bytes of the large-object heap) a few times instead of a hundred: every part allocated anew left the old
/// arrays as large-object garbage, which only a full collection frees, and which the heap then holds beside live parts
/// (docs/segments.md, "Huge traces").
/// <para>Memory: what it keeps stays counted in the budget (the released part's reservation is taken over, never
/// exposed to waiting clients in between, and handed on to the part that reuses the arrays): at most
/// <see cref="MaxSets"/> parts and <see cref="LimitBytes"/> (an eighth of the budget). The assembler empties it when no
/// trace is expecting a next part (<see cref="Clear"/>). Parts smaller than <see cref="MinPooledBytes"/> (every
/// ordinary trace) are never kept.</para>
/// <para>Safety: a part's arrays are taken only from a buffer no reader has pinned (<see cref="TraceBuffer.TryPin"/>),
/// and once taken no reader can pin it. Thread-safe.</para>
/// </summary>
internal sealed class PartArrayPool(MemoryBudget budget)
{
    /// <summary>Parts kept at most: the sealer releases the parts of a huge trace one segment at a time, and the
    /// assembler starts a new one about as often.</summary>
    public const int MaxSets = 8;

    /// <summary>Parts whose arrays take less than this are not kept (1 MiB: a part of about 2,000 small spans).</summary>
    public const long MinPooledBytes = 1L << 20;

    private readonly object _gate = new();
    private readonly List<PartArrays> _idle = [];
    private long _idleBytes;

    /// <summary>The most the kept arrays may take: an eighth of the budget.</summary>
    public long LimitBytes => budget.LimitBytes / 4;

    /// <summary>Parts kept now.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _idle.Count;
            }
        }
    }

    /// <summary>Bytes kept now (counted in the budget).</summary>
    public long IdleBytes => Interlocked.Read(ref _idleBytes);

    /// <summary>
    /// A committed part is released: keeps its arrays if they are large, there is room, and no reader holds it, taking
    /// over that much of <paramref name="accountedBytes"/> (its count in the budget; what it lacks is reserved if that
    /// fits). Returns the bytes the caller still has to release.
    /// </summary>
    public long Return(TraceBuffer part, long accountedBytes)
    {
        var bytes = part.ArrayBytes;
        if (bytes < MinPooledBytes)
        {
            return accountedBytes;
        }

        lock (_gate)
        {
            if (_idle.Count >= MaxSets || _idleBytes + bytes > LimitBytes)
            {
                return accountedBytes;
            }

            var missing = bytes - accountedBytes;
            if (missing > 0 && !budget.TryReserve(missing))
            {
                return accountedBytes;
            }

            if (part.TryRetire() is not { } arrays)
            {
                if (missing > 0)
                {
                    budget.Release(missing);
                }

                return accountedBytes;
            }

            _idle.Add(arrays);
            Interlocked.Add(ref _idleBytes, arrays.Bytes);
            return Math.Max(0, -missing);
        }
    }

    /// <summary>Arrays for a part that should hold about <paramref name="wanted"/>, if any are kept: the smallest set at
    /// least that large in spans and arena bytes, else the largest. Their bytes (<see cref="PartArrays.Bytes"/>) stay
    /// counted in the budget and become the new buffer's.</summary>
    public PartArrays? TryRent(PartCapacity wanted)
    {
        lock (_gate)
        {
            if (_idle.Count == 0)
            {
                return null;
            }

            var best = -1;
            for (var i = 0; i < _idle.Count; i++)
            {
                var candidate = _idle[i];
                var fits = candidate.Spans.Length >= wanted.Spans && candidate.Arena.Length >= wanted.ArenaBytes;
                var bestFits = best >= 0 && _idle[best].Spans.Length >= wanted.Spans && _idle[best].Arena.Length >= wanted.ArenaBytes;
                if (best < 0 || (fits && (!bestFits || candidate.Bytes < _idle[best].Bytes)) || (!fits && !bestFits && candidate.Bytes > _idle[best].Bytes))
                {
                    best = i;
                }
            }

            var taken = _idle[best];
            _idle.RemoveAt(best);
            Interlocked.Add(ref _idleBytes, -taken.Bytes);
            return taken;
        }
    }

    /// <summary>Drops every kept part and gives its bytes back to the budget.</summary>
    public void Clear()
    {
        lock (_gate)
        {
            if (_idle.Count == 0)
            {
                return;
            }

            _idle.Clear();
            budget.Release(Interlocked.Exchange(ref _idleBytes, 0));
        }
    }
}
