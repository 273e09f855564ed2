using System.Runtime.CompilerServices;
using TraceStore.Protocol.Model;
using F = TraceStore.Protocol.Otlp.OtlpFields;

namespace TraceStore.Protocol.Otlp.Protobuf;

/// <summary>
/// Decodes the elements of an export request that arrive whole (a <c>Resource</c>, an <c>InstrumentationScope</c>,
/// a <c>Span</c> with its events, links and attributes) from one contiguous span into a <see cref="SpanBatch"/>.
/// <para>Contiguity: key/values and array values are first pushed on a scratch stack; when the element that owns
/// them ends, its entries move to the batch as one run. Nested lists finish before their parent, so every
/// range is contiguous however the fields interleave on the wire.</para>
/// <para>Per-span problems (bad ids, invalid UTF-8, end before start, nesting too deep) do not stop decoding: the
/// span is rolled back and counted as rejected. Structural problems throw <see cref="OtlpDecodeException"/>.</para>
/// <para>Locals are not zeroed on entry (<c>SkipLocalsInit</c>: see <see cref="OtlpProtobufDecoder"/>).</para>
/// </summary>
[SkipLocalsInit]
internal sealed partial class ProtobufElementDecoder(SpanBatch batch, OtlpDecoderOptions options)
{
    /// <summary>Deepest path kept for error messages (attribute nesting adds about three entries per level).</summary>
    private const int MaxPathDepth = 256;

    private const byte SpanAttributesTag = (F.Span.Attributes << 3) | (int)WireType.LengthDelimited;
    private const byte EventAttributesTag = (F.Event.Attributes << 3) | (int)WireType.LengthDelimited;

    private readonly BatchWriter _writer = new(batch);

    // Where decoding is, inside the element: pushed on entering a field, popped on leaving it. Only read when a
    // structural error is thrown (the stack then still holds the path to the problem), so the happy path pays two
    // stores per field instead of a try/catch region that would keep the readers out of registers.
    // Entries hold an index into PathNames (not the string) so pushing stores no object reference: no GC write barrier.
    private readonly (byte Field, int Index)[] _path = new (byte, int)[MaxPathDepth];
    private int _pathDepth;

    private enum PathField : byte
    {
        Status,
        Events,
        Links,
        Attributes,
        Values,
        Value,
        ArrayValue,
        KvlistValue,
    }

    private static readonly string[] PathNames = ["status", "events", "links", "attributes", "values", "value", "array_value", "kvlist_value"];

    public SpanBatch Batch => batch;

    public void DecodeResource(ReadOnlySpan<byte> data, long offset, ref ResourceRecord resource)
    {
        var reader = new ProtoReader(data, offset);
        var attributesBase = _writer.KeyValueStackDepth;
        var attributeIndex = 0;
        while (reader.TryReadTag(out var field, out var wireType))
        {
            switch (field)
            {
                case F.Resource.Attributes:
                    reader.Expect(wireType, WireType.LengthDelimited, "attributes");
                    DecodeKeyValueInto(ref reader, PathField.Attributes, attributeIndex++, depth: 1);
                    break;
                case F.Resource.DroppedAttributesCount:
                    reader.Expect(wireType, WireType.Varint, "dropped_attributes_count");
                    resource.DroppedAttributesCount = (uint)reader.ReadVarint();
                    break;
                default:
                    reader.Skip(field, wireType);
                    break;
            }
        }

        resource.Attributes = _writer.PopKeyValues(attributesBase);
    }

    public void DecodeScope(ReadOnlySpan<byte> data, long offset, ref ScopeRecord scope)
    {
        var reader = new ProtoReader(data, offset);
        var attributesBase = _writer.KeyValueStackDepth;
        var attributeIndex = 0;
        while (reader.TryReadTag(out var field, out var wireType))
        {
            switch (field)
            {
                case F.InstrumentationScope.Name:
                    scope.Name = ReadString(ref reader, wireType, "name");
                    break;
                case F.InstrumentationScope.Version:
                    scope.Version = ReadString(ref reader, wireType, "version");
                    break;
                case F.InstrumentationScope.Attributes:
                    reader.Expect(wireType, WireType.LengthDelimited, "attributes");
                    DecodeKeyValueInto(ref reader, PathField.Attributes, attributeIndex++, depth: 1);
                    break;
                case F.InstrumentationScope.DroppedAttributesCount:
                    reader.Expect(wireType, WireType.Varint, "dropped_attributes_count");
                    scope.DroppedAttributesCount = (uint)reader.ReadVarint();
                    break;
                default:
                    reader.Skip(field, wireType);
                    break;
            }
        }

        scope.Attributes = _writer.PopKeyValues(attributesBase);
    }

    /// <summary>A string field of a ResourceSpans or ScopeSpans (schema_url): invalid UTF-8 rejects the request.</summary>
    public ArenaSlice DecodeOuterString(ReadOnlySpan<byte> data, long offset, string field) => _writer.AppendUtf8(data, field, offset);

    /// <summary>Decodes one span; returns false (and records why) when per-span validation refused it.</summary>
    public bool DecodeSpan(ReadOnlySpan<byte> data, long offset, int scopeIndex, SpanPath path)
    {
        var attributesBase = _writer.KeyValueStackDepth;
        ref var span = ref _writer.BeginSpan(scopeIndex);
        var ids = DecodeSpanFields(data, offset, ref span);
        span.Attributes = _writer.PopKeyValues(attributesBase);
        return _writer.EndSpan(SpanValidation.Problem(span, ids.TraceIdLength, ids.SpanIdLength, ids.ParentIdLength), path);
    }

    /// <summary>Forgets scratch state left by a request that failed half way.</summary>
    public void Reset()
    {
        _writer.Reset();
        _pathDepth = 0;
    }

    /// <summary>The field path inside the element where the last structural error was thrown; resets the path.</summary>
    public string TakeErrorPath()
    {
        var depth = Math.Min(_pathDepth, MaxPathDepth);
        var parts = new string[depth];
        for (var i = 0; i < depth; i++)
        {
            var name = PathNames[_path[i].Field];
            parts[i] = _path[i].Index >= 0 ? $"{name}[{_path[i].Index}]" : name;
        }

        _pathDepth = 0;
        return string.Join('.', parts);
    }

    private void Enter(PathField field, int index = -1)
    {
        if (_pathDepth < MaxPathDepth)
        {
            _path[_pathDepth] = ((byte)field, index);
        }

        _pathDepth++;
    }

    private void Leave() => _pathDepth--;

    private SpanIdFields DecodeSpanFields(ReadOnlySpan<byte> data, long offset, ref SpanRecord span)
    {
        var reader = new ProtoReader(data, offset);
        var ids = default(SpanIdFields);
        int attributeIndex = 0, eventIndex = 0, linkIndex = 0;
        var eventsStart = batch.Events.Count;
        var linksStart = batch.Links.Count;
        while (reader.TryReadTag(out var field, out var wireType))
        {
            switch (field)
            {
                case F.Span.TraceId:
                    reader.Expect(wireType, WireType.LengthDelimited, "trace_id");
                    ids.TraceIdLength = ReadId(ref reader, out var traceId);
                    if (ids.TraceIdLength == TraceId.Size)
                    {
                        span.TraceId = TraceId.FromBytes(traceId);
                    }

                    break;
                case F.Span.SpanId:
                    reader.Expect(wireType, WireType.LengthDelimited, "span_id");
                    ids.SpanIdLength = ReadId(ref reader, out var spanId);
                    if (ids.SpanIdLength == SpanId.Size)
                    {
                        span.SpanId = SpanId.FromBytes(spanId);
                    }

                    break;
                case F.Span.TraceState:
                    span.TraceState = ReadString(ref reader, wireType, "trace_state");
                    break;
                case F.Span.ParentSpanId:
                    reader.Expect(wireType, WireType.LengthDelimited, "parent_span_id");
                    ids.ParentIdLength = ReadId(ref reader, out var parentId);
                    span.ParentSpanId = ids.ParentIdLength == SpanId.Size ? SpanId.FromBytes(parentId) : default;
                    break;
                case F.Span.Name:
                    span.Name = ReadString(ref reader, wireType, "name");
                    break;
                case F.Span.Kind:
                    reader.Expect(wireType, WireType.Varint, "kind");
                    span.Kind = (SpanKind)(int)reader.ReadVarint();
                    break;
                case F.Span.StartTimeUnixNano:
                    reader.Expect(wireType, WireType.Fixed64, "start_time_unix_nano");
                    span.StartTimeUnixNano = reader.ReadFixed64();
                    break;
                case F.Span.EndTimeUnixNano:
                    reader.Expect(wireType, WireType.Fixed64, "end_time_unix_nano");
                    span.EndTimeUnixNano = reader.ReadFixed64();
                    break;
                case F.Span.Attributes:
                    reader.Expect(wireType, WireType.LengthDelimited, "attributes");
                    // Through a copy: passing the loop's reader by reference would keep it in memory (see ProtoReader).
                    var run = reader;
                    attributeIndex = DecodeAttributes(ref run, SpanAttributesTag, attributeIndex);
                    reader = run;
                    break;
                case F.Span.DroppedAttributesCount:
                    reader.Expect(wireType, WireType.Varint, "dropped_attributes_count");
                    span.DroppedAttributesCount = (uint)reader.ReadVarint();
                    break;
                case F.Span.Events:
                    reader.Expect(wireType, WireType.LengthDelimited, "events");
                    DecodeEvent(reader.ReadLengthDelimited(out var eventOffset), eventOffset, eventIndex++);
                    break;
                case F.Span.DroppedEventsCount:
                    reader.Expect(wireType, WireType.Varint, "dropped_events_count");
                    span.DroppedEventsCount = (uint)reader.ReadVarint();
                    break;
                case F.Span.Links:
                    reader.Expect(wireType, WireType.LengthDelimited, "links");
                    DecodeLink(reader.ReadLengthDelimited(out var linkOffset), linkOffset, linkIndex++);
                    break;
                case F.Span.DroppedLinksCount:
                    reader.Expect(wireType, WireType.Varint, "dropped_links_count");
                    span.DroppedLinksCount = (uint)reader.ReadVarint();
                    break;
                case F.Span.Status:
                    reader.Expect(wireType, WireType.LengthDelimited, "status");
                    DecodeStatus(reader.ReadLengthDelimited(out var statusOffset), statusOffset, ref span);
                    break;
                case F.Span.Flags:
                    reader.Expect(wireType, WireType.Fixed32, "flags");
                    span.Flags = reader.ReadFixed32();
                    break;
                default:
                    reader.Skip(field, wireType);
                    break;
            }
        }

        span.Events = new RecordRange(eventsStart, batch.Events.Count - eventsStart);
        span.Links = new RecordRange(linksStart, batch.Links.Count - linksStart);
        return ids;
    }

    // Elements inside a span take their bytes, not the span's reader: passing the reader by reference would keep it
    // in memory for the whole span loop (see ProtoReader).
    private void DecodeStatus(ReadOnlySpan<byte> data, long offset, ref SpanRecord span)
    {
        var reader = new ProtoReader(data, offset);
        Enter(PathField.Status);
        // Repeated occurrences of a message field merge: each field read overwrites only itself.
        while (reader.TryReadTag(out var field, out var wireType))
        {
            switch (field)
            {
                case F.Status.Message:
                    span.StatusMessage = ReadString(ref reader, wireType, "message");
                    break;
                case F.Status.Code:
                    reader.Expect(wireType, WireType.Varint, "code");
                    span.StatusCode = (StatusCode)(int)reader.ReadVarint();
                    break;
                default:
                    reader.Skip(field, wireType);
                    break;
            }
        }

        Leave();
    }

    private void DecodeEvent(ReadOnlySpan<byte> data, long offset, int index)
    {
        var reader = new ProtoReader(data, offset);
        var attributesBase = _writer.KeyValueStackDepth;
        Enter(PathField.Events, index);
        var record = default(EventRecord);
        var attributeIndex = 0;
        while (reader.TryReadTag(out var field, out var wireType))
        {
            switch (field)
            {
                case F.Event.TimeUnixNano:
                    reader.Expect(wireType, WireType.Fixed64, "time_unix_nano");
                    record.TimeUnixNano = reader.ReadFixed64();
                    break;
                case F.Event.Name:
                    record.Name = ReadString(ref reader, wireType, "name");
                    break;
                case F.Event.Attributes:
                    reader.Expect(wireType, WireType.LengthDelimited, "attributes");
                    var run = reader;
                    attributeIndex = DecodeAttributes(ref run, EventAttributesTag, attributeIndex);
                    reader = run;
                    break;
                case F.Event.DroppedAttributesCount:
                    reader.Expect(wireType, WireType.Varint, "dropped_attributes_count");
                    record.DroppedAttributesCount = (uint)reader.ReadVarint();
                    break;
                default:
                    reader.Skip(field, wireType);
                    break;
            }
        }

        record.Attributes = _writer.PopKeyValues(attributesBase);
        batch.Events.Add() = record;
        Leave();
    }

    private void DecodeLink(ReadOnlySpan<byte> data, long offset, int index)
    {
        var reader = new ProtoReader(data, offset);
        var attributesBase = _writer.KeyValueStackDepth;
        Enter(PathField.Links, index);
        var record = default(LinkRecord);
        var attributeIndex = 0;
        int traceIdLength = 0, spanIdLength = 0;
        while (reader.TryReadTag(out var field, out var wireType))
        {
            switch (field)
            {
                case F.Link.TraceId:
                    reader.Expect(wireType, WireType.LengthDelimited, "trace_id");
                    traceIdLength = ReadId(ref reader, out var traceId);
                    record.TraceId = traceIdLength == TraceId.Size ? TraceId.FromBytes(traceId) : default;
                    break;
                case F.Link.SpanId:
                    reader.Expect(wireType, WireType.LengthDelimited, "span_id");
                    spanIdLength = ReadId(ref reader, out var spanId);
                    record.SpanId = spanIdLength == SpanId.Size ? SpanId.FromBytes(spanId) : default;
                    break;
                case F.Link.TraceState:
                    record.TraceState = ReadString(ref reader, wireType, "trace_state");
                    break;
                case F.Link.Attributes:
                    reader.Expect(wireType, WireType.LengthDelimited, "attributes");
                    DecodeKeyValueInto(ref reader, PathField.Attributes, attributeIndex++, depth: 1);
                    break;
                case F.Link.DroppedAttributesCount:
                    reader.Expect(wireType, WireType.Varint, "dropped_attributes_count");
                    record.DroppedAttributesCount = (uint)reader.ReadVarint();
                    break;
                case F.Link.Flags:
                    reader.Expect(wireType, WireType.Fixed32, "flags");
                    record.Flags = reader.ReadFixed32();
                    break;
                default:
                    reader.Skip(field, wireType);
                    break;
            }
        }

        record.Attributes = _writer.PopKeyValues(attributesBase);
        if (SpanValidation.LinkProblem(index, traceIdLength, spanIdLength) is { } problem)
        {
            _writer.Problem(OtlpRejectReason.InvalidValue, problem, offset);
        }

        batch.Links.Add() = record;
        Leave();
    }

    /// <summary>Lengths of the id fields as they arrived (see <see cref="SpanValidation.IdLength"/>).</summary>
    private struct SpanIdFields
    {
        public int TraceIdLength;
        public int SpanIdLength;
        public int ParentIdLength;
    }
}
