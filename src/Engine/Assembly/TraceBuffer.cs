using System.Runtime.CompilerServices;
using TraceStore.Protocol.Model;

namespace TraceStore.Engine.Assembly;

/// <summary>
/// Every span of one trace received so far, deduplicated by span id, in one UTF-8 arena and three record lists: one
/// allocation per trace and per growth, none per span or string. Not thread-safe: the assembler owns it and changes it
/// only under its shard's lock while the buffer is open; once it leaves the open set (a filled part, or taken by the
/// sealer) its spans never change again, so readers may then share it without a lock.
/// </summary>
public sealed class TraceBuffer
{
    /// <summary>Set in <see cref="_pins"/> once the buffer's arrays went to a <see cref="PartArrayPool"/>.</summary>
    private const int RetiredFlag = 1 << 30;

    private Dictionary<SpanId, int> _spanIndex;

    // Readers holding the buffer (TryPin .. Unpin), plus RetiredFlag once its arrays were handed on: a buffer is retired
    // only with no reader, and no reader pins it after (see TryRetire).
    private int _pins;

    public TraceBuffer(TraceKey key, long nowTicks)
        : this(key, nowTicks, default(PartCapacity))
    {
    }

    /// <summary>A buffer allocated for <paramref name="capacity"/> at once (the next part of a trace whose last part
    /// filled up: see <see cref="PartCapacity"/>), so it never grows by doubling; an empty capacity starts small.</summary>
    public TraceBuffer(TraceKey key, long nowTicks, PartCapacity capacity)
    {
        Key = key;
        FirstSeenTicks = nowTicks;
        LastSpanTicks = nowTicks;
        Arena = new(Math.Max(256, capacity.ArenaBytes));
        Spans = new(Math.Max(4, capacity.Spans));
        Attributes = new(Math.Max(8, capacity.Attributes));
        Events = new(Math.Max(4, capacity.Events));
        _spanIndex = new(capacity.Spans);
    }

    /// <summary>A buffer over the arrays of a retired part (<see cref="PartArrayPool"/>): empty, with their capacities.</summary>
    internal TraceBuffer(TraceKey key, long nowTicks, PartArrays arrays)
    {
        Key = key;
        FirstSeenTicks = nowTicks;
        LastSpanTicks = nowTicks;
        Arena = new(arrays.Arena);
        Spans = new(arrays.Spans);
        Attributes = new(arrays.Attributes);
        Events = new(arrays.Events);
        _spanIndex = arrays.SpanIndex;
    }

    private TraceBuffer(TraceBuffer source)
    {
        Key = source.Key;
        FirstSeenTicks = source.FirstSeenTicks;
        LastSpanTicks = source.LastSpanTicks;
        LowestWalSequence = source.LowestWalSequence;
        DuplicateSpans = source.DuplicateSpans;
        RootIndex = source.RootIndex;
        Arena = new(source.Arena.Length);
        Arena.Append(source.Arena[new ArenaSlice(0, source.Arena.Length)]);
        Spans = new(source.Spans.Count);
        Spans.AddRange(source.Spans.AsSpan());
        Attributes = new(source.Attributes.Count);
        Attributes.AddRange(source.Attributes.AsSpan());
        Events = new(source.Events.Count);
        Events.AddRange(source.Events.AsSpan());
        _spanIndex = new(source._spanIndex);
    }

    public TraceKey Key { get; }

    public ByteArena Arena { get; }

    public RecordList<StoredSpan> Spans { get; }

    public RecordList<StoredKeyValue> Attributes { get; }

    public RecordList<StoredEvent> Events { get; }

    /// <summary>When the first span arrived, and when the last new one did (<see cref="System.Diagnostics.Stopwatch"/> ticks).</summary>
    public long FirstSeenTicks { get; }

    public long LastSpanTicks { get; internal set; }

    /// <summary>Lowest WAL sequence any span of this buffer came from (long.MaxValue while empty).</summary>
    public long LowestWalSequence { get; internal set; } = long.MaxValue;

    /// <summary>Spans received again (same span id, as OTLP clients resend after a timeout), kept once.</summary>
    public int DuplicateSpans { get; internal set; }

    /// <summary>Bytes of this buffer counted in the memory budget so far (the assembler keeps it in step with
    /// <see cref="FootprintBytes"/>; the sealer releases it once the trace is committed).</summary>
    public long AccountedBytes { get; internal set; }

    /// <summary>Set when this is a part of a trace whose previous part filled up: the capacity that part asked of its
    /// successor (<see cref="NextPartCapacity"/>). Such a part will likely fill too, and its successor reuse the arrays
    /// the pool keeps (<see cref="PartArrayPool"/>); null for any other buffer.</summary>
    internal PartCapacity? FollowsPart { get; set; }

    /// <summary>Index of the root span in <see cref="Spans"/>, or -1 until it arrives.</summary>
    public int RootIndex { get; private set; } = -1;

    public bool RootEnded => RootIndex >= 0 && Spans[RootIndex].HasEnded;

    /// <summary>Bytes this buffer holds in memory, for the memory budget: arena and list capacities plus the index.</summary>
    public long FootprintBytes =>
        Arena.Capacity
        + ((long)Spans.Capacity * Unsafe.SizeOf<StoredSpan>())
        + ((long)Attributes.Capacity * Unsafe.SizeOf<StoredKeyValue>())
        + ((long)Events.Capacity * Unsafe.SizeOf<StoredEvent>())
        + (_spanIndex.Count * 24L)
        + 256;

    /// <summary>What the arrays alone take (<see cref="FootprintBytes"/> without the span index's entries): what a
    /// <see cref="PartArrayPool"/> keeps of the buffer once it is retired, and counts.</summary>
    internal long ArrayBytes =>
        Arena.Capacity
        + ((long)Spans.Capacity * Unsafe.SizeOf<StoredSpan>())
        + ((long)Attributes.Capacity * Unsafe.SizeOf<StoredKeyValue>())
        + ((long)Events.Capacity * Unsafe.SizeOf<StoredEvent>())
        + 256;

    /// <summary>The <see cref="FootprintBytes"/> of an empty buffer made with <paramref name="capacity"/> (what the
    /// assembler reserves before allocating one).</summary>
    public static long EmptyFootprintBytes(PartCapacity capacity) =>
        Math.Max(256, capacity.ArenaBytes)
        + ((long)Math.Max(4, capacity.Spans) * Unsafe.SizeOf<StoredSpan>())
        + ((long)Math.Max(8, capacity.Attributes) * Unsafe.SizeOf<StoredKeyValue>())
        + ((long)Math.Max(4, capacity.Events) * Unsafe.SizeOf<StoredEvent>())
        + 256;

    public ReadOnlySpan<byte> Bytes(ArenaSlice slice) => Arena[slice];

    /// <summary>
    /// Declares a reader of this buffer until <see cref="Unpin"/>: while it is pinned its arrays are never handed to
    /// another part. False when they have been already (<see cref="TryRetire"/>: the part is committed to a segment,
    /// so the reader finds its spans there) and the buffer must not be read. Readers that take a buffer out of the
    /// assembler or the sealer's pending list (the hot index) pin it first.
    /// </summary>
    public bool TryPin()
    {
        var pins = Volatile.Read(ref _pins);
        while ((pins & RetiredFlag) == 0)
        {
            var seen = Interlocked.CompareExchange(ref _pins, pins + 1, pins);
            if (seen == pins)
            {
                return true;
            }

            pins = seen;
        }

        return false;
    }

    /// <summary>Ends a reader's <see cref="TryPin"/>.</summary>
    public void Unpin()
    {
        if ((Interlocked.Decrement(ref _pins) & (RetiredFlag - 1)) == RetiredFlag - 1)
        {
            Interlocked.Increment(ref _pins);
            throw new InvalidOperationException("Unpin without a pin.");
        }
    }

    /// <summary>
    /// Takes the arrays away for reuse by another part, once this part is committed and released (the assembler's
    /// <see cref="SpanAssembler.Release"/>): only when no reader has it pinned, and from then on none can. The buffer is
    /// left empty with no capacity, so anything still holding it reads no spans rather than another part's. Null when a
    /// reader holds it (its arrays are then left to the garbage collector) or it was retired already.
    /// </summary>
    internal PartArrays? TryRetire()
    {
        if (Interlocked.CompareExchange(ref _pins, RetiredFlag, 0) != 0)
        {
            return null;
        }

        var index = _spanIndex;
        _spanIndex = [];
        index.Clear();
        RootIndex = -1;
        return new PartArrays(Spans.TakeArray(), Attributes.TakeArray(), Events.TakeArray(), Arena.TakeBytes(), index);
    }

    public string GetString(ArenaSlice slice) => slice.IsEmpty ? "" : System.Text.Encoding.UTF8.GetString(Arena[slice]);

    public bool Contains(SpanId spanId) => _spanIndex.ContainsKey(spanId);

    /// <summary>Where the span with <paramref name="spanId"/> is in <see cref="Spans"/>, if it has arrived.</summary>
    public bool TryGetSpanIndex(SpanId spanId, out int index) => _spanIndex.TryGetValue(spanId, out index);

    /// <summary>
    /// A copy of everything held now: the arena and the record lists copied whole (slices keep their offsets), so a
    /// reader can copy an open buffer briefly under the assembler's lock and work on the copy outside it. The copy is
    /// not counted in the memory budget (<see cref="AccountedBytes"/> is 0): it lives as long as one read.
    /// </summary>
    public TraceBuffer Clone() => new(this);

    /// <summary>Appends a copy of span <paramref name="index"/> of <paramref name="source"/> (with its attributes and
    /// events) unless a span with its id is here already; false then.</summary>
    internal bool AppendCopy(TraceBuffer source, int index, long nowTicks)
    {
        var span = source.Spans[index];
        if (Contains(span.SpanId))
        {
            return false;
        }

        ArenaSlice Copy(ArenaSlice slice) => Arena.Append(source.Bytes(slice));
        var attributesStart = Attributes.Count;
        foreach (ref readonly var attribute in source.Attributes.Slice(span.Attributes))
        {
            var value = Copy(attribute.Value);
            Attributes.Add() = new StoredKeyValue(Copy(attribute.Key), value);
            span.Inputs = attribute.Value == source.Spans[index].Inputs && !span.Inputs.IsEmpty ? value : span.Inputs;
            span.Outputs = attribute.Value == source.Spans[index].Outputs && !span.Outputs.IsEmpty ? value : span.Outputs;
        }

        var eventsStart = Events.Count;
        foreach (ref readonly var spanEvent in source.Events.Slice(span.Events))
        {
            Events.Add() = new StoredEvent(Copy(spanEvent.Name), spanEvent.TimeUnixNano, Copy(spanEvent.Attributes));
        }

        span.Name = Copy(span.Name);
        span.StatusMessage = Copy(span.StatusMessage);
        span.SpanType = Copy(span.SpanType);
        span.Model = Copy(span.Model);
        span.Provider = Copy(span.Provider);
        span.SessionId = Copy(span.SessionId);
        span.UserId = Copy(span.UserId);
        span.ServiceName = Copy(span.ServiceName);
        span.Attributes = new RecordRange(attributesStart, Attributes.Count - attributesStart);
        span.Events = new RecordRange(eventsStart, Events.Count - eventsStart);
        Spans.Add() = span;
        IndexLastSpan(nowTicks);
        return true;
    }

    /// <summary>What a part like this one needs: its counts and arena bytes, with 1/8 more of each for a next part
    /// whose spans are a little larger (a growth past the capacity would double, allocating twice as much), spans
    /// capped at <paramref name="maxSpans"/> (a part is full at that many).</summary>
    public PartCapacity NextPartCapacity(int maxSpans) => new(
        Math.Min(maxSpans, Spans.Count + (Spans.Count / 8)),
        Attributes.Count + (Attributes.Count / 8),
        Events.Count + (Events.Count / 8),
        Arena.Length + (Arena.Length / 8));

    /// <summary>Records a span appended at the end of <see cref="Spans"/> by the copier.</summary>
    internal void IndexLastSpan(long nowTicks)
    {
        var index = Spans.Count - 1;
        ref readonly var span = ref Spans[index];
        _spanIndex.Add(span.SpanId, index);
        if (span.IsRoot && RootIndex < 0)
        {
            RootIndex = index;
        }

        LowestWalSequence = Math.Min(LowestWalSequence, span.WalSequence);
        LastSpanTicks = nowTicks;
    }
}

/// <summary>
/// The capacities a <see cref="TraceBuffer"/> starts with. A huge trace comes in parts of
/// <see cref="AssemblerOptions.MaxSpansPerPart"/> spans, each its own buffer: grown by doubling, every part allocated
/// its arrays about twice over on the large-object heap (the copies left behind are garbage only a full collection
/// frees), and up to half of the last array unused, counted in the budget. The parts after the first are allocated at the
/// size of the part before instead.
/// </summary>
public readonly record struct PartCapacity(int Spans, int Attributes, int Events, int ArenaBytes);
