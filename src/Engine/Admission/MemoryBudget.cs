using System.Diagnostics;

namespace TraceStore.Engine.Admission;

/// <summary>
/// The one memory budget of the ingest path, counted in bytes: request bodies in flight, decoded batches, and (as the
/// assembler and sealer arrive) their contents. Reservations never take <see cref="UsedBytes"/> past
/// <see cref="LimitBytes"/>: <see cref="TryReserve"/> refuses instead, which is how the engine refuses a request
/// before buffering it. <see cref="ReserveAsync"/> waits for room instead (offline bulk loads).
/// <para>Thread-safe and lock-free on the reserve/release path. Release rate is tracked so a refusal can say how long
/// the budget needs to drain the bytes a request asks for (<see cref="EstimateRetryAfter"/>).</para>
/// </summary>
public sealed class MemoryBudget
{
    /// <summary>Shortest and longest retry-after an overloaded client is told: below 1 s HTTP cannot express it, and
    /// beyond 30 s an estimate from a recent drain rate is a guess.</summary>
    public static readonly TimeSpan MinRetryAfter = TimeSpan.FromSeconds(1);

    public static readonly TimeSpan MaxRetryAfter = TimeSpan.FromSeconds(30);

    private readonly DrainRate _drain = new();
    private TaskCompletionSource _roomFreed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _used;
    private long _peak;
    private int _waiters;
    private long _shortages;

    public MemoryBudget(long limitBytes, double highWatermarkFraction = 0.8)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limitBytes, 1L << 20, nameof(limitBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(highWatermarkFraction, 0.1, nameof(highWatermarkFraction));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(highWatermarkFraction, 1.0, nameof(highWatermarkFraction));
        LimitBytes = limitBytes;
        HighWatermarkBytes = (long)(limitBytes * highWatermarkFraction);
    }

    /// <summary>Raised (on the reserving thread) when a reservation crosses <see cref="HighWatermarkBytes"/> upwards:
    /// the signal for the assembler to seal early. Handlers must be quick and must not reserve.</summary>
    public event Action? HighWatermarkCrossed;

    public long LimitBytes { get; }

    public long HighWatermarkBytes { get; }

    public long UsedBytes => Volatile.Read(ref _used);

    /// <summary>Most bytes ever reserved at once since the budget was made.</summary>
    public long PeakBytes => Volatile.Read(ref _peak);

    public bool IsAboveHighWatermark => UsedBytes > HighWatermarkBytes;

    /// <summary>Bytes released per second, smoothed over the last few seconds; 0 before anything drained.</summary>
    public double DrainBytesPerSecond => _drain.BytesPerSecond;

    /// <summary>Reservations that did not fit when asked (a refused request, a waiting client's attempt, a presized
    /// part that grows instead) since the budget was made: while it rises, ingest is short of memory, and work that can
    /// wait (compaction) waits.</summary>
    public long Shortages => Interlocked.Read(ref _shortages);

    /// <summary>Reserves <paramref name="bytes"/> if they fit under the limit; false (nothing reserved) otherwise.</summary>
    public bool TryReserve(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        var used = Volatile.Read(ref _used);
        while (true)
        {
            var next = used + bytes;
            if (next > LimitBytes)
            {
                Interlocked.Increment(ref _shortages);
                return false;
            }

            var seen = Interlocked.CompareExchange(ref _used, next, used);
            if (seen == used)
            {
                OnReserved(used, next);
                return true;
            }

            used = seen;
        }
    }

    /// <summary>Waits until <paramref name="bytes"/> fit, then reserves them. A request larger than the whole budget can
    /// never fit and is refused at once.</summary>
    public async ValueTask ReserveAsync(long bytes, CancellationToken cancellationToken = default)
    {
        if (bytes > LimitBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes, $"A reservation of {bytes} bytes can never fit a memory budget of {LimitBytes} bytes.");
        }

        while (!TryReserve(bytes))
        {
            var roomFreed = Volatile.Read(ref _roomFreed).Task;
            Interlocked.Increment(ref _waiters);
            try
            {
                // Re-check after registering as a waiter: a release between the failed TryReserve and the increment
                // would otherwise go unseen. The delay bounds the cost of any lost wake-up to one poll.
                if (TryReserve(bytes))
                {
                    return;
                }

                await Task.WhenAny(roomFreed, Task.Delay(50, cancellationToken)).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
            }
            finally
            {
                Interlocked.Decrement(ref _waiters);
            }
        }
    }

    /// <summary>
    /// Counts bytes that cannot be refused because they hold data already accepted (the assembler's copy of spans that
    /// are in the WAL). This may take <see cref="UsedBytes"/> past the limit; new requests are then refused until
    /// sealing frees memory.
    /// </summary>
    public void ForceReserve(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        var after = Interlocked.Add(ref _used, bytes);
        OnReserved(after - bytes, after);
    }

    public void Release(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        var after = Interlocked.Add(ref _used, -bytes);
        Debug.Assert(after >= 0, "released more than was reserved");
        _drain.Add(bytes);
        if (Volatile.Read(ref _waiters) > 0)
        {
            Interlocked.Exchange(ref _roomFreed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        }
    }

    /// <summary>
    /// How long until <paramref name="bytes"/> more would fit, at the current drain rate, clamped to
    /// [<see cref="MinRetryAfter"/>, <see cref="MaxRetryAfter"/>]. With no drain measured yet the answer is the minimum.
    /// </summary>
    public TimeSpan EstimateRetryAfter(long bytes)
    {
        var excess = UsedBytes + bytes - LimitBytes;
        var rate = _drain.BytesPerSecond;
        if (excess <= 0 || rate <= 0)
        {
            return MinRetryAfter;
        }

        var seconds = excess / rate;
        return TimeSpan.FromSeconds(Math.Clamp(seconds, MinRetryAfter.TotalSeconds, MaxRetryAfter.TotalSeconds));
    }

    private void OnReserved(long before, long after)
    {
        AtomicMax.Raise(ref _peak, after);
        if (before <= HighWatermarkBytes && after > HighWatermarkBytes)
        {
            HighWatermarkCrossed?.Invoke();
        }
    }

    /// <summary>Released bytes per second over a sliding window of one-second buckets.</summary>
    private sealed class DrainRate
    {
        private const int Buckets = 5;
        private readonly long[] _bytes = new long[Buckets];
        private readonly long[] _second = new long[Buckets];
        private readonly object _gate = new();
        private readonly long _startTicks = Stopwatch.GetTimestamp();

        public void Add(long bytes)
        {
            var second = CurrentSecond();
            var slot = (int)(second % Buckets);
            lock (_gate)
            {
                if (_second[slot] != second)
                {
                    _second[slot] = second;
                    _bytes[slot] = 0;
                }

                _bytes[slot] += bytes;
            }
        }

        public double BytesPerSecond
        {
            get
            {
                var now = CurrentSecond();
                long total = 0;
                lock (_gate)
                {
                    for (var i = 0; i < Buckets; i++)
                    {
                        if (now - _second[i] < Buckets)
                        {
                            total += _bytes[i];
                        }
                    }
                }

                // The current second is partial: divide by the time actually covered.
                var elapsed = Stopwatch.GetElapsedTime(_startTicks).TotalSeconds;
                var window = Math.Min(elapsed, Buckets - 1 + (elapsed - Math.Floor(elapsed)));
                return window <= 0 ? 0 : total / Math.Max(window, 0.1);
            }
        }

        private long CurrentSecond() => (long)Stopwatch.GetElapsedTime(_startTicks).TotalSeconds;
    }
}
