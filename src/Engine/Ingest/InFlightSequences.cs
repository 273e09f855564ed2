namespace TraceStore.Engine.Ingest;

/// <summary>
/// WAL positions of requests that are being logged or have been logged but are not yet in the assembler. The WAL
/// checkpoint must not pass them: between the WAL's acknowledgement and the assembler taking the spans, neither the
/// assembler nor the sealer knows the record exists. Each entry is a lower bound (the WAL's next sequence just before
/// the append), so it is safe before the real sequence is known.
/// </summary>
internal sealed class InFlightSequences
{
    private readonly object _gate = new();
    private readonly SortedDictionary<long, int> _counts = [];

    public long Enter(long lowerBound)
    {
        lock (_gate)
        {
            _counts[lowerBound] = _counts.GetValueOrDefault(lowerBound) + 1;
        }

        return lowerBound;
    }

    public void Exit(long lowerBound)
    {
        lock (_gate)
        {
            var count = _counts[lowerBound] - 1;
            if (count == 0)
            {
                _counts.Remove(lowerBound);
            }
            else
            {
                _counts[lowerBound] = count;
            }
        }
    }

    /// <summary>The lowest sequence still in flight; long.MaxValue when none.</summary>
    public long Lowest()
    {
        lock (_gate)
        {
            foreach (var (sequence, _) in _counts)
            {
                return sequence;
            }

            return long.MaxValue;
        }
    }
}
