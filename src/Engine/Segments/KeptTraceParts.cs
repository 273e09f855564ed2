using TraceStore.Engine.Admission;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Traces;

namespace TraceStore.Engine.Segments;

/// <summary>
/// The sealer's memory of large traces between their parts: for each trace that expects more parts, what its sealed
/// parts are (<see cref="SealedTraceParts"/>), so its next part does not read every earlier span back (a
/// million-span trace comes in a hundred parts). Counted in the budget and never past its limit: the reservation is
/// taken over from the part just written (see <see cref="Keep"/>). The kept total stays under half the budget; past
/// it, the traces updated longest ago are dropped (their next part reads back). Not thread-safe: the sealer's lock.
/// </summary>
internal sealed class KeptTraceParts(MemoryBudget budget)
{
    private readonly Dictionary<TraceKey, SealedTraceParts> _parts = [];
    private readonly Dictionary<TraceKey, long> _updated = [];
    private long _bytes;

    // What the kept parts count in the budget: at least _bytes after each Keep that returned true.
    private long _reserved;

    public bool TryGet(TraceKey key, out SealedTraceParts parts) => _parts.TryGetValue(key, out parts!);

    /// <summary>
    /// Keeps what <paramref name="key"/>'s sealed parts now are, <paramref name="earlier"/> extended by
    /// <paramref name="written"/> (with its <paramref name="summary"/>) in segment <paramref name="sealSequence"/>, and
    /// makes the reservation cover them, taking it over from
    /// <paramref name="writtenPart"/>, the part of the trace just written and still pending: its buffer is released
    /// right after the commit, and releases that much less, so those bytes never leave the budget and no waiting client
    /// can take the room first. A part holds far more than it adds to the kept parts (hundreds of bytes per span
    /// against about 40), so each part also tops the reservation up towards <see cref="ReservationTarget"/>, and a
    /// sudden growth of the id index is covered by what earlier parts gave. What is still missing is reserved only if
    /// it fits; when it does not, the trace is dropped (its next part reads the earlier ones back).
    /// </summary>
    public void Keep(TraceKey key, SealedTraceParts? earlier, TraceBuffer written, TraceSummary summary, long sealSequence, TraceBuffer? writtenPart)
    {
        // Read before extending: Extend may grow the kept object itself.
        var before = _parts.TryGetValue(key, out var old) ? old.FootprintBytes : 0;
        var parts = SealedTraceParts.Extend(earlier, written, summary, sealSequence);
        _parts[key] = parts;
        _updated[key] = sealSequence;
        _bytes += parts.FootprintBytes - before;
        if (!Cover(writtenPart))
        {
            Forget(key);
        }
    }

    /// <summary>Drops the kept parts of <paramref name="key"/>; their reservation is given back by <see cref="Trim"/>
    /// once it is past what the rest need.</summary>
    public void Forget(TraceKey key)
    {
        if (_parts.Remove(key, out var parts))
        {
            _updated.Remove(key);
            _bytes -= parts.FootprintBytes;
        }
    }

    /// <summary>After a round of <see cref="Keep"/>: drops the oldest traces past half the budget, and gives back the
    /// reservation beyond <see cref="ReservationTarget"/>.</summary>
    public void Trim()
    {
        while (_bytes > budget.LimitBytes / 2 && _parts.Count > 0)
        {
            Forget(_updated.MinBy(e => e.Value).Key);
        }

        var excess = _reserved - ReservationTarget();
        if (excess > 0)
        {
            _reserved -= excess;
            budget.Release(excess);
        }
    }

    /// <summary>What the kept parts should have counted in the budget: twice what they hold (their id index grows by
    /// doubling, a thousand tables at about the same span count), but not beyond half the budget unless they hold
    /// more.</summary>
    private long ReservationTarget() => Math.Min(2 * _bytes, Math.Max(_bytes, budget.LimitBytes / 2));

    private bool Cover(TraceBuffer? writtenPart)
    {
        var target = ReservationTarget();
        if (_reserved < target && writtenPart is not null)
        {
            var taken = Math.Min(target - _reserved, writtenPart.AccountedBytes);
            writtenPart.AccountedBytes -= taken;
            _reserved += taken;
        }

        if (_reserved >= _bytes)
        {
            return true;
        }

        if (!budget.TryReserve(_bytes - _reserved))
        {
            return false;
        }

        _reserved = _bytes;
        return true;
    }
}
