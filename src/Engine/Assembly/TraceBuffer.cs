using System.Runtime.CompilerServices;
using TraceStore.Protocol.Model;

namespace TraceStore.Engine.Assembly;

/// <summary>
/// Every span of one trace received so far, deduplicated by span id, in one UTF-8 arena and three record lists: one
/// allocation per trace and per growth, none per span or string. Not thread-safe: the assembler owns it.
/// </summary>
public sealed class TraceBuffer
{
    private readonly Dictionary<SpanId, int> _spanIndex = [];

    public TraceBuffer(TraceKey key, long nowTicks)
    {
        Key = key;
        FirstSeenTicks = nowTicks;
        LastSpanTicks = nowTicks;
    }

    public TraceKey Key { get; }

    public ByteArena Arena { get; } = new(256);

    public RecordList<StoredSpan> Spans { get; } = new(4);

    public RecordList<StoredKeyValue> Attributes { get; } = new(8);

    public RecordList<StoredEvent> Events { get; } = new(4);

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

    public ReadOnlySpan<byte> Bytes(ArenaSlice slice) => Arena[slice];

    public string GetString(ArenaSlice slice) => slice.IsEmpty ? "" : System.Text.Encoding.UTF8.GetString(Arena[slice]);

    public bool Contains(SpanId spanId) => _spanIndex.ContainsKey(spanId);

    /// <summary>Where the span with <paramref name="spanId"/> is in <see cref="Spans"/>, if it has arrived.</summary>
    public bool TryGetSpanIndex(SpanId spanId, out int index) => _spanIndex.TryGetValue(spanId, out index);

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
