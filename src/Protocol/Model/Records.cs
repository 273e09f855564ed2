namespace TraceStore.Protocol.Model;

/// <summary>A run [Start, Start + Count) of records in one of a <see cref="SpanBatch"/>'s lists.</summary>
public readonly record struct RecordRange(int Start, int Count)
{
    public int End => Start + Count;
}

/// <summary>Bytes held in a <see cref="SpanBatch"/>'s arena (UTF-8 for string fields). Empty when Length is 0.</summary>
public readonly record struct ArenaSlice(int Offset, int Length)
{
    public bool IsEmpty => Length == 0;
}

/// <summary>The case of an OTLP <c>AnyValue</c> oneof. <see cref="Empty"/> is a value with no case set.</summary>
#pragma warning disable CA1720 // The members are the oneof cases of common.proto (string_value, int_value, double_value).
public enum AnyValueKind : byte
{
    Empty = 0,
    String = 1,
    Bool = 2,
    Int = 3,
    Double = 4,
    Array = 5,
    KeyValueList = 6,
    Bytes = 7,
}
#pragma warning restore CA1720

/// <summary>OTLP <c>Span.SpanKind</c>. Proto3 enums are open: other values are kept as they arrive.</summary>
public enum SpanKind
{
    Unspecified = 0,
    Internal = 1,
    Server = 2,
    Client = 3,
    Producer = 4,
    Consumer = 5,
}

/// <summary>OTLP <c>Status.StatusCode</c>. Open like every proto3 enum.</summary>
public enum StatusCode
{
    Unset = 0,
    Ok = 1,
    Error = 2,
}

/// <summary>
/// An <c>AnyValue</c>. Scalars live in <see cref="Bits"/> (int64 as is, double as its IEEE bits, bool as 0/1);
/// strings and bytes in <see cref="Bytes"/>; arrays reference <see cref="SpanBatch.ArrayValues"/> and key/value
/// lists reference <see cref="SpanBatch.KeyValues"/> through <see cref="Children"/>.
/// </summary>
public record struct AnyValueRecord(AnyValueKind Kind, long Bits, ArenaSlice Bytes, RecordRange Children)
{
    public readonly bool BoolValue => Bits != 0;

    public readonly long IntValue => Bits;

    public readonly double DoubleValue => BitConverter.Int64BitsToDouble(Bits);
}

/// <summary>A <c>KeyValue</c>: an attribute.</summary>
public record struct KeyValueRecord(ArenaSlice Key, AnyValueRecord Value);

/// <summary>A <c>Resource</c> with the scopes that follow it in its <c>ResourceSpans</c>.</summary>
public record struct ResourceRecord
{
    public RecordRange Attributes;
    public uint DroppedAttributesCount;
    public ArenaSlice SchemaUrl;
    public RecordRange Scopes;
}

/// <summary>An <c>InstrumentationScope</c> (with its <c>ScopeSpans</c> schema URL) and the spans it produced.</summary>
public record struct ScopeRecord
{
    public int ResourceIndex;
    public ArenaSlice Name;
    public ArenaSlice Version;
    public RecordRange Attributes;
    public uint DroppedAttributesCount;
    public ArenaSlice SchemaUrl;
    public RecordRange Spans;
}

/// <summary>A <c>Span</c>. Times are nanoseconds since the Unix epoch (0 = not set).</summary>
public record struct SpanRecord
{
    public TraceId TraceId;
    public SpanId SpanId;

    /// <summary>Empty for a root span.</summary>
    public SpanId ParentSpanId;
    public ArenaSlice TraceState;
    public uint Flags;
    public ArenaSlice Name;
    public SpanKind Kind;
    public ulong StartTimeUnixNano;
    public ulong EndTimeUnixNano;
    public RecordRange Attributes;
    public uint DroppedAttributesCount;
    public RecordRange Events;
    public uint DroppedEventsCount;
    public RecordRange Links;
    public uint DroppedLinksCount;
    public StatusCode StatusCode;
    public ArenaSlice StatusMessage;
    public int ScopeIndex;

    public readonly bool IsRoot => ParentSpanId.IsEmpty;
}

/// <summary>A <c>Span.Event</c>.</summary>
public record struct EventRecord
{
    public ulong TimeUnixNano;
    public ArenaSlice Name;
    public RecordRange Attributes;
    public uint DroppedAttributesCount;
}

/// <summary>A <c>Span.Link</c>.</summary>
public record struct LinkRecord
{
    public TraceId TraceId;
    public SpanId SpanId;
    public ArenaSlice TraceState;
    public RecordRange Attributes;
    public uint DroppedAttributesCount;
    public uint Flags;
}
