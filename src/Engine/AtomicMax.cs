namespace TraceStore.Engine;

/// <summary>Lock-free "raise to at least" for counters read by other threads (peaks, highest sequences).</summary>
internal static class AtomicMax
{
    public static void Raise(ref long target, long value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
