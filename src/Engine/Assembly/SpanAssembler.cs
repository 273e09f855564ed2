using TraceStore.Engine.Admission;
using TraceStore.Protocol.Model;

namespace TraceStore.Engine.Assembly;

/// <summary>What <see cref="SpanAssembler.Add"/> did: spans new and already held, and the bytes the buffers grew by.</summary>
public readonly record struct AddResult(int Added, int Duplicates, long GrownBytes);

/// <summary>
/// Groups spans into per-trace buffers keyed by (experiment, trace id), fed by ingest after the WAL acknowledged a
/// request and by WAL replay at open, and hands traces to the sealer by the completion policy of
/// <see cref="AssemblerOptions"/>. Memory: every buffer's footprint is counted in the memory budget (forced: the spans
/// are already durable, so they cannot be refused); it stays counted after a trace leaves the assembler until the
/// sealer calls <see cref="Release"/>.
/// <para>Thread-safe: traces are spread over lock-striped shards, so concurrent requests rarely contend.</para>
/// </summary>
public sealed class SpanAssembler
{
    private const int ShardCount = 16;
    private readonly Shard[] _shards;
    private readonly AssemblerOptions _options;
    private readonly MemoryBudget _budget;
    private readonly TimeProvider _time;
    private readonly long _idleTicks;
    private readonly long _maxAgeTicks;
    private readonly PartArrayPool _pool;

    public SpanAssembler(AssemblerOptions options, MemoryBudget budget, TimeProvider? time = null)
    {
        _options = options.Validate();
        _budget = budget;
        _time = time ?? TimeProvider.System;
        _idleTicks = (long)(options.IdleAfterRootEnd.TotalSeconds * _time.TimestampFrequency);
        _maxAgeTicks = (long)(options.MaxTraceAge.TotalSeconds * _time.TimestampFrequency);
        _shards = [.. Enumerable.Range(0, ShardCount).Select(_ => new Shard())];
        _pool = new PartArrayPool(budget);
    }

    /// <summary>The arrays of released parts kept for the next parts of large traces (tests look at it).</summary>
    internal PartArrayPool Pool => _pool;

    /// <summary>Traces open now (buffers not yet handed to the sealer).</summary>
    public int OpenTraces => _shards.Sum(s => s.CountUnderLock());

    /// <summary>
    /// Copies every span of <paramref name="batch"/> into its trace's buffer. Returns how many spans were new, how
    /// many were already held (a client's retry, kept once), and by how many bytes the buffers grew. The growth is
    /// counted in the memory budget here (forced) unless <paramref name="reserveGrowth"/> is false, in which case the
    /// caller counts it (ingest turns the request's own reservation into it).
    /// </summary>
    public AddResult Add(SpanBatch batch, string experimentId, long walSequence, bool reserveGrowth = true)
    {
        int added = 0, duplicates = 0;
        long grownTotal = 0;
        var now = _time.GetTimestamp();
        foreach (ref readonly var span in batch.Spans.AsSpan())
        {
            var key = new TraceKey(experimentId, span.TraceId);
            var shard = ShardOf(key);
            long grown;
            lock (shard.Gate)
            {
                if (!shard.Open.TryGetValue(key, out var buffer))
                {
                    buffer = NewBuffer(shard, key, now);
                    shard.Open.Add(key, buffer);
                }

                if (SpanCopier.Copy(batch, span, buffer, walSequence, now))
                {
                    added++;
                }
                else
                {
                    duplicates++;
                }

                grown = buffer.FootprintBytes - buffer.AccountedBytes;
                buffer.AccountedBytes += grown;
                if (buffer.Spans.Count >= _options.MaxSpansPerPart || buffer.FootprintBytes >= _options.MaxBytesPerPart)
                {
                    shard.Open.Remove(key);
                    shard.Due.Add(new SealedTrace(buffer, SealReason.PartFull));
                    shard.NextParts[key] = (buffer.NextPartCapacity(_options.MaxSpansPerPart), now);
                }
            }

            grownTotal += grown;
        }

        if (reserveGrowth && grownTotal > 0)
        {
            _budget.ForceReserve(grownTotal);
        }

        return new AddResult(added, duplicates, grownTotal);
    }

    /// <summary>Removes and returns the traces due now: parts that filled up, complete traces (root ended, quiet for
    /// the idle period) and traces past the maximum age.</summary>
    public List<SealedTrace> TakeDue()
    {
        var now = _time.GetTimestamp();
        var due = new List<SealedTrace>();
        var nextPartsExpected = false;
        foreach (var shard in _shards)
        {
            lock (shard.Gate)
            {
                due.AddRange(shard.Due);
                shard.Due.Clear();
                ForgetStaleNextParts(shard, now);
                nextPartsExpected |= shard.NextParts.Count > 0;
                var dueHere = due.Count;
                foreach (var buffer in shard.Open.Values)
                {
                    nextPartsExpected |= buffer.FollowsPart is not null;
                    var reason = buffer.RootEnded && now - buffer.LastSpanTicks >= _idleTicks ? SealReason.Complete
                        : now - buffer.FirstSeenTicks >= _maxAgeTicks ? SealReason.MaxAge
                        : (SealReason?)null;
                    if (reason is { } why)
                    {
                        due.Add(new SealedTrace(buffer, why));
                    }
                }

                for (var i = dueHere; i < due.Count; i++)
                {
                    shard.Open.Remove(due[i].Buffer.Key);
                }
            }
        }

        // No trace is waiting for its next part or filling one that follows a full part: the kept arrays would only
        // hold budget.
        if (!nextPartsExpected)
        {
            _pool.Clear();
        }

        return due;
    }

    /// <summary>Memory pressure: removes the oldest open traces (by first span) until their counted bytes reach
    /// <paramref name="bytesToFree"/>, or nothing is left.</summary>
    public List<SealedTrace> TakeOldest(long bytesToFree)
    {
        var now = _time.GetTimestamp();
        var candidates = new List<TraceBuffer>();
        foreach (var shard in _shards)
        {
            lock (shard.Gate)
            {
                candidates.AddRange(shard.Open.Values);
            }
        }

        candidates.Sort((a, b) => a.FirstSeenTicks.CompareTo(b.FirstSeenTicks));
        var taken = new List<SealedTrace>();
        long freed = 0;
        foreach (var buffer in candidates)
        {
            if (freed >= bytesToFree)
            {
                break;
            }

            var shard = ShardOf(buffer.Key);
            lock (shard.Gate)
            {
                // It may have been sealed or replaced meanwhile; take it only if it is still the open buffer.
                if (shard.Open.TryGetValue(buffer.Key, out var current) && ReferenceEquals(current, buffer))
                {
                    shard.Open.Remove(buffer.Key);
                    taken.Add(new SealedTrace(buffer, SealReason.MemoryPressure));
                    freed += buffer.AccountedBytes;

                    // A part of a huge trace cut short by pressure: its next part is still a part of the huge trace
                    // (sized like the full one before it, and a taker of the pool's arrays).
                    if (buffer.FollowsPart is { } previous && !buffer.RootEnded)
                    {
                        shard.NextParts[buffer.Key] = (previous, now);
                    }
                }
            }
        }

        return taken;
    }

    /// <summary>Removes and returns every open trace and every filled part (shutdown, <c>tracestore seal</c>).</summary>
    public List<SealedTrace> TakeAll()
    {
        var all = new List<SealedTrace>();
        foreach (var shard in _shards)
        {
            lock (shard.Gate)
            {
                all.AddRange(shard.Due);
                shard.Due.Clear();
                all.AddRange(shard.Open.Values.Select(b => new SealedTrace(b, SealReason.Flush)));
                shard.Open.Clear();
                shard.NextParts.Clear();
            }
        }

        _pool.Clear();
        return all;
    }

    /// <summary>Gives a sealed trace's memory back to the budget once the sealer has committed it, or, for a large part
    /// no reader holds, keeps its arrays (and as much of its count) for the next part of a large trace
    /// (<see cref="PartArrayPool"/>): the buffer is then empty. Nothing may read the buffer afterwards without a pin.</summary>
    public void Release(SealedTrace sealedTrace)
    {
        var buffer = sealedTrace.Buffer;
        var accounted = buffer.AccountedBytes;
        buffer.AccountedBytes = 0;
        _budget.Release(buffer.ArrayBytes >= PartArrayPool.MinPooledBytes && NextPartExpected() ? _pool.Return(buffer, accounted) : accounted);
    }

    /// <summary>Whether some trace waits for its next part (its last one filled up) or is filling one that follows a
    /// full part: only then are a released part's arrays worth keeping (not after a flush, which takes everything).
    /// Looks through every shard: called only for parts large enough for the pool.</summary>
    private bool NextPartExpected()
    {
        foreach (var shard in _shards)
        {
            lock (shard.Gate)
            {
                if (shard.NextParts.Count > 0)
                {
                    return true;
                }

                foreach (var open in shard.Open.Values)
                {
                    if (open.FollowsPart is not null)
                    {
                        return true;
                    }
                }
            }
        }

        return false;
    }

    /// <summary>Lowest WAL sequence an open trace or a filled part not yet taken still holds; long.MaxValue when none.
    /// Traces already taken are the sealer's to account for until it commits them.</summary>
    public long LowestWalSequence()
    {
        var lowest = long.MaxValue;
        foreach (var shard in _shards)
        {
            lock (shard.Gate)
            {
                foreach (var buffer in shard.Open.Values)
                {
                    lowest = Math.Min(lowest, buffer.LowestWalSequence);
                }

                foreach (var part in shard.Due)
                {
                    lowest = Math.Min(lowest, part.Buffer.LowestWalSequence);
                }
            }
        }

        return lowest;
    }

    /// <summary>Runs <paramref name="read"/> on the open buffer of <paramref name="key"/> under its shard's lock (the
    /// buffer must not escape the call). False when the trace is not open.</summary>
    public bool TryRead<T>(TraceKey key, Func<TraceBuffer, T> read, out T result)
    {
        var shard = ShardOf(key);
        lock (shard.Gate)
        {
            if (shard.Open.TryGetValue(key, out var buffer))
            {
                result = read(buffer);
                return true;
            }
        }

        result = default!;
        return false;
    }

    /// <summary>
    /// The parts of trace <paramref name="traceId"/> held now, in any experiment, oldest first: filled parts waiting
    /// for the sealer, then the open buffer. Taken under the trace's shard lock, so a part moving from open to filled
    /// is seen once. Open buffers are returned as references: read them through <see cref="Stable"/>. Looks through
    /// one shard's traces (1/16 of the open ones), since a trace id alone does not make a key.
    /// </summary>
    public List<TraceBuffer> Parts(TraceId traceId)
    {
        var parts = new List<TraceBuffer>();
        var shard = _shards[(int)(traceId.Low % ShardCount)];
        lock (shard.Gate)
        {
            CollectParts(shard, key => key.TraceId == traceId, parts);
        }

        return parts;
    }

    /// <summary>The parts of every trace held now whose key passes <paramref name="include"/> (all when null), each
    /// shard read under its lock; per trace, filled parts first, then the open buffer. Open buffers are returned as
    /// references: read them through <see cref="Stable"/>.</summary>
    public List<TraceBuffer> Parts(Func<TraceKey, bool>? include = null)
    {
        var parts = new List<TraceBuffer>();
        foreach (var shard in _shards)
        {
            lock (shard.Gate)
            {
                CollectParts(shard, include, parts);
            }
        }

        return parts;
    }

    /// <summary>
    /// A buffer that will not change while the caller reads it: <paramref name="part"/> itself when it is no longer
    /// open (a filled or taken part never changes again), else a <see cref="TraceBuffer.Clone"/> taken under its shard's
    /// lock (a copy of the arena and record lists: the lock is held about as long as a memcpy of the trace).
    /// </summary>
    public TraceBuffer Stable(TraceBuffer part)
    {
        var shard = ShardOf(part.Key);
        lock (shard.Gate)
        {
            return shard.Open.TryGetValue(part.Key, out var open) && ReferenceEquals(open, part) ? part.Clone() : part;
        }
    }

    private static void CollectParts(Shard shard, Func<TraceKey, bool>? include, List<TraceBuffer> parts)
    {
        foreach (var part in shard.Due)
        {
            if (include is null || include(part.Buffer.Key))
            {
                parts.Add(part.Buffer);
            }
        }

        foreach (var (key, buffer) in shard.Open)
        {
            if (include is null || include(key))
            {
                parts.Add(buffer);
            }
        }
    }

    /// <summary>
    /// A new buffer for <paramref name="key"/>: when its previous part filled up, over the arrays of a released part if
    /// the pool keeps some (already counted), else allocated at once at the size of that part
    /// (<see cref="PartCapacity"/>) when the budget has room for it now, counted before it is allocated, so
    /// the budget is never taken past its limit by the whole part at once (only growth is forced, as it comes); else
    /// small, growing as spans arrive.
    /// </summary>
    private TraceBuffer NewBuffer(Shard shard, TraceKey key, long now)
    {
        var nextPart = shard.NextParts.Remove(key, out var next);
        var buffer = nextPart && _pool.TryRent(next.Capacity) is { } arrays
            ? new TraceBuffer(key, now, arrays) { AccountedBytes = arrays.Bytes }
            : nextPart && TraceBuffer.EmptyFootprintBytes(next.Capacity) is var bytes && _budget.TryReserve(bytes)
            ? new TraceBuffer(key, now, next.Capacity) { AccountedBytes = bytes }
            : new TraceBuffer(key, now);
        buffer.FollowsPart = nextPart ? next.Capacity : null;

        // A part is sealed the moment it holds MaxSpansPerPart spans: its span list need not double past that (a jump
        // the budget would have to take whole, forced).
        buffer.Spans.GrowthCap = _options.MaxSpansPerPart;
        return buffer;
    }

    /// <summary>Drops the capacities kept for the next part of traces that sent nothing more for the idle period (their
    /// last part was the last, or the next one comes so late it may as well start small).</summary>
    private void ForgetStaleNextParts(Shard shard, long now)
    {
        if (shard.NextParts.Count == 0)
        {
            return;
        }

        foreach (var (key, next) in shard.NextParts)
        {
            if (now - next.FilledTicks >= _idleTicks)
            {
                shard.NextParts.Remove(key);
            }
        }
    }

    private Shard ShardOf(TraceKey key) => _shards[(int)(key.TraceId.Low % ShardCount)];

    private sealed class Shard
    {
        public object Gate { get; } = new();

        public Dictionary<TraceKey, TraceBuffer> Open { get; } = [];

        public List<SealedTrace> Due { get; } = [];

        /// <summary>Traces whose last part filled up: the capacity their next part starts with
        /// (<see cref="TraceBuffer.NextPartCapacity"/>) and when the last one filled.</summary>
        public Dictionary<TraceKey, (PartCapacity Capacity, long FilledTicks)> NextParts { get; } = [];

        public int CountUnderLock()
        {
            lock (Gate)
            {
                return Open.Count;
            }
        }
    }
}
