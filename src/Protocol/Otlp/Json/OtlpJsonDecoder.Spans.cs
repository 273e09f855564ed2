using System.Text.Json;
using TraceStore.Protocol.Model;

namespace TraceStore.Protocol.Otlp.Json;

/// <summary>Spans, events, links and status.</summary>
public sealed partial class OtlpJsonDecoder
{
    private void DecodeSpan(ref Utf8JsonReader reader, int resourceIndex, int scopeIndex, int spanIndex)
    {
        var batch = _batch!;
        var writer = _writer!;
        if (batch.Spans.Count + batch.RejectedSpans >= _options.MaxSpansPerRequest)
        {
            OtlpDecodeException.Throw(OtlpRejectReason.TooManySpans, $"the request has more than {_options.MaxSpansPerRequest} spans", reader.TokenStartIndex);
        }

        ExpectObject(ref reader, "spans");
        var attributesBase = writer.KeyValueStackDepth;
        ref var span = ref writer.BeginSpan(batch.Scopes.Count - 1);
        var eventsStart = batch.Events.Count;
        var linksStart = batch.Links.Count;
        int traceIdLength = 0, spanIdLength = 0, parentIdLength = 0;
        var eventIndex = 0;
        var linkIndex = 0;
        Span<char> name = stackalloc char[MaxNameLength];
        Span<byte> id = stackalloc byte[TraceId.Size];
        while (NextProperty(ref reader, name, out var nameLength))
        {
            ReadOnlySpan<char> property = name[..nameLength];
            switch (property)
            {
                case "traceid":
                    traceIdLength = ReadHexId(ref reader, "trace_id", id);
                    span.TraceId = traceIdLength == TraceId.Size ? TraceId.FromBytes(id) : default;
                    break;
                case "spanid":
                    spanIdLength = ReadHexId(ref reader, "span_id", id);
                    span.SpanId = spanIdLength == SpanId.Size ? SpanId.FromBytes(id) : default;
                    break;
                case "parentspanid":
                    parentIdLength = ReadHexId(ref reader, "parent_span_id", id);
                    span.ParentSpanId = parentIdLength == SpanId.Size ? SpanId.FromBytes(id) : default;
                    break;
                case "tracestate":
                    span.TraceState = ReadString(ref reader, "trace_state");
                    break;
                case "name":
                    span.Name = ReadString(ref reader, "name");
                    break;
                case "kind":
                    span.Kind = (SpanKind)ReadEnum(ref reader, "kind", SpanKindNames);
                    break;
                case "starttimeunixnano":
                    span.StartTimeUnixNano = ReadUInt64(ref reader, "start_time_unix_nano");
                    break;
                case "endtimeunixnano":
                    span.EndTimeUnixNano = ReadUInt64(ref reader, "end_time_unix_nano");
                    break;
                case "attributes":
                    DecodeKeyValues(ref reader, "attributes", depth: 1);
                    break;
                case "droppedattributescount":
                    span.DroppedAttributesCount = ReadUInt32(ref reader, "dropped_attributes_count");
                    break;
                case "events":
                    ForEachElement(ref reader, "events", ref eventIndex, static (JsonBatchDecoderFrame frame, ref Utf8JsonReader r, int i) => frame.Decoder.DecodeEvent(ref r));
                    break;
                case "droppedeventscount":
                    span.DroppedEventsCount = ReadUInt32(ref reader, "dropped_events_count");
                    break;
                case "links":
                    ForEachElement(ref reader, "links", ref linkIndex, static (JsonBatchDecoderFrame frame, ref Utf8JsonReader r, int i) => frame.Decoder.DecodeLink(ref r, i));
                    break;
                case "droppedlinkscount":
                    span.DroppedLinksCount = ReadUInt32(ref reader, "dropped_links_count");
                    break;
                case "status":
                    DecodeStatus(ref reader, ref span);
                    break;
                case "flags":
                    span.Flags = ReadUInt32(ref reader, "flags");
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        span.Attributes = writer.PopKeyValues(attributesBase);
        span.Events = new RecordRange(eventsStart, batch.Events.Count - eventsStart);
        span.Links = new RecordRange(linksStart, batch.Links.Count - linksStart);
        writer.EndSpan(
            SpanValidation.Problem(span, traceIdLength, spanIdLength, parentIdLength),
            new SpanPath(resourceIndex, scopeIndex, spanIndex));
    }

    private void DecodeEvent(ref Utf8JsonReader reader)
    {
        ExpectObject(ref reader, "events");
        var attributesBase = _writer!.KeyValueStackDepth;
        var record = default(EventRecord);
        Span<char> name = stackalloc char[MaxNameLength];
        while (NextProperty(ref reader, name, out var nameLength))
        {
            ReadOnlySpan<char> property = name[..nameLength];
            switch (property)
            {
                case "timeunixnano":
                    record.TimeUnixNano = ReadUInt64(ref reader, "time_unix_nano");
                    break;
                case "name":
                    record.Name = ReadString(ref reader, "name");
                    break;
                case "attributes":
                    DecodeKeyValues(ref reader, "attributes", depth: 1);
                    break;
                case "droppedattributescount":
                    record.DroppedAttributesCount = ReadUInt32(ref reader, "dropped_attributes_count");
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        record.Attributes = _writer.PopKeyValues(attributesBase);
        _batch!.Events.Add() = record;
    }

    private void DecodeLink(ref Utf8JsonReader reader, int index)
    {
        ExpectObject(ref reader, "links");
        var attributesBase = _writer!.KeyValueStackDepth;
        var record = default(LinkRecord);
        int traceIdLength = 0, spanIdLength = 0;
        var start = reader.TokenStartIndex;
        Span<char> name = stackalloc char[MaxNameLength];
        Span<byte> id = stackalloc byte[TraceId.Size];
        while (NextProperty(ref reader, name, out var nameLength))
        {
            ReadOnlySpan<char> property = name[..nameLength];
            switch (property)
            {
                case "traceid":
                    traceIdLength = ReadHexId(ref reader, "trace_id", id);
                    record.TraceId = traceIdLength == TraceId.Size ? TraceId.FromBytes(id) : default;
                    break;
                case "spanid":
                    spanIdLength = ReadHexId(ref reader, "span_id", id);
                    record.SpanId = spanIdLength == SpanId.Size ? SpanId.FromBytes(id) : default;
                    break;
                case "tracestate":
                    record.TraceState = ReadString(ref reader, "trace_state");
                    break;
                case "attributes":
                    DecodeKeyValues(ref reader, "attributes", depth: 1);
                    break;
                case "droppedattributescount":
                    record.DroppedAttributesCount = ReadUInt32(ref reader, "dropped_attributes_count");
                    break;
                case "flags":
                    record.Flags = ReadUInt32(ref reader, "flags");
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        record.Attributes = _writer.PopKeyValues(attributesBase);
        if (SpanValidation.LinkProblem(index, traceIdLength, spanIdLength) is { } problem)
        {
            _writer.Problem(OtlpRejectReason.InvalidValue, problem, start);
        }

        _batch!.Links.Add() = record;
    }

    private void DecodeStatus(ref Utf8JsonReader reader, ref SpanRecord span)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return;
        }

        try
        {
            ExpectObject(ref reader, "status");
            Span<char> name = stackalloc char[MaxNameLength];
            while (NextProperty(ref reader, name, out var nameLength))
            {
                ReadOnlySpan<char> property = name[..nameLength];
                switch (property)
                {
                    case "message":
                        span.StatusMessage = ReadString(ref reader, "message");
                        break;
                    case "code":
                        span.StatusCode = (StatusCode)ReadEnum(ref reader, "code", StatusCodeNames);
                        break;
                    default:
                        reader.Skip();
                        break;
                }
            }
        }
        catch (OtlpDecodeException e)
        {
            throw e.Within("status");
        }
    }

    private static readonly string[] SpanKindNames =
        ["SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"];

    private static readonly string[] StatusCodeNames = ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"];
}
