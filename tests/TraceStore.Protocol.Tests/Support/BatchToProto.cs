using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;
using TraceStore.Protocol.Model;

namespace TraceStore.Protocol.Tests.Support;

/// <summary>
/// Rebuilds a Google.Protobuf message from a decoded <see cref="SpanBatch"/>, so the differential tests can
/// compare our decode with the oracle's field by field (<c>Equals</c> on generated messages is deep).
/// Absent singular messages come back as empty ones; compare against <see cref="Normalize"/>d originals.
/// </summary>
internal static class BatchToProto
{
    public static ExportTraceServiceRequest Convert(SpanBatch batch)
    {
        var request = new ExportTraceServiceRequest();
        foreach (var resource in batch.Resources.AsSpan())
        {
            var resourceSpans = new ResourceSpans
            {
                Resource = new Resource { DroppedAttributesCount = resource.DroppedAttributesCount },
                SchemaUrl = batch.GetString(resource.SchemaUrl),
            };
            resourceSpans.Resource.Attributes.AddRange(KeyValues(batch, resource.Attributes));
            foreach (var scope in batch.Scopes.Slice(resource.Scopes))
            {
                var scopeSpans = new ScopeSpans
                {
                    Scope = new InstrumentationScope
                    {
                        Name = batch.GetString(scope.Name),
                        Version = batch.GetString(scope.Version),
                        DroppedAttributesCount = scope.DroppedAttributesCount,
                    },
                    SchemaUrl = batch.GetString(scope.SchemaUrl),
                };
                scopeSpans.Scope.Attributes.AddRange(KeyValues(batch, scope.Attributes));
                foreach (var span in batch.Spans.Slice(scope.Spans))
                {
                    scopeSpans.Spans.Add(Span(batch, span));
                }

                resourceSpans.ScopeSpans.Add(scopeSpans);
            }

            request.ResourceSpans.Add(resourceSpans);
        }

        return request;
    }

    /// <summary>A deep copy where every absent singular message is an empty one (what <see cref="Convert"/> produces).</summary>
    public static ExportTraceServiceRequest Normalize(ExportTraceServiceRequest original)
    {
        var copy = original.Clone();
        foreach (var resourceSpans in copy.ResourceSpans)
        {
            resourceSpans.Resource ??= new Resource();
            NormalizeAll(resourceSpans.Resource.Attributes);
            foreach (var scopeSpans in resourceSpans.ScopeSpans)
            {
                scopeSpans.Scope ??= new InstrumentationScope();
                NormalizeAll(scopeSpans.Scope.Attributes);
                foreach (var span in scopeSpans.Spans)
                {
                    span.Status ??= new Status();
                    NormalizeAll(span.Attributes);
                    foreach (var e in span.Events)
                    {
                        NormalizeAll(e.Attributes);
                    }

                    foreach (var link in span.Links)
                    {
                        NormalizeAll(link.Attributes);
                    }
                }
            }
        }

        return copy;
    }

    private static void NormalizeAll(IEnumerable<KeyValue> keyValues)
    {
        foreach (var kv in keyValues)
        {
            kv.Value ??= new AnyValue();
            NormalizeValue(kv.Value);
        }
    }

    private static void NormalizeValue(AnyValue value)
    {
        if (value.ValueCase == AnyValue.ValueOneofCase.ArrayValue)
        {
            foreach (var element in value.ArrayValue.Values)
            {
                NormalizeValue(element);
            }
        }
        else if (value.ValueCase == AnyValue.ValueOneofCase.KvlistValue)
        {
            NormalizeAll(value.KvlistValue.Values);
        }
    }

    private static Span Span(SpanBatch batch, in SpanRecord record)
    {
        var span = new Span
        {
            TraceId = Id(record.TraceId),
            SpanId = Id(record.SpanId),
            ParentSpanId = record.ParentSpanId.IsEmpty ? ByteString.Empty : Id(record.ParentSpanId),
            TraceState = batch.GetString(record.TraceState),
            Flags = record.Flags,
            Name = batch.GetString(record.Name),
            Kind = (Span.Types.SpanKind)record.Kind,
            StartTimeUnixNano = record.StartTimeUnixNano,
            EndTimeUnixNano = record.EndTimeUnixNano,
            DroppedAttributesCount = record.DroppedAttributesCount,
            DroppedEventsCount = record.DroppedEventsCount,
            DroppedLinksCount = record.DroppedLinksCount,
            Status = new Status { Code = (Status.Types.StatusCode)record.StatusCode, Message = batch.GetString(record.StatusMessage) },
        };
        span.Attributes.AddRange(KeyValues(batch, record.Attributes));
        foreach (var e in batch.Events.Slice(record.Events))
        {
            var ev = new Span.Types.Event { TimeUnixNano = e.TimeUnixNano, Name = batch.GetString(e.Name), DroppedAttributesCount = e.DroppedAttributesCount };
            ev.Attributes.AddRange(KeyValues(batch, e.Attributes));
            span.Events.Add(ev);
        }

        foreach (var l in batch.Links.Slice(record.Links))
        {
            var link = new Span.Types.Link
            {
                TraceId = Id(l.TraceId),
                SpanId = Id(l.SpanId),
                TraceState = batch.GetString(l.TraceState),
                DroppedAttributesCount = l.DroppedAttributesCount,
                Flags = l.Flags,
            };
            link.Attributes.AddRange(KeyValues(batch, l.Attributes));
            span.Links.Add(link);
        }

        return span;
    }

    private static List<KeyValue> KeyValues(SpanBatch batch, RecordRange range)
    {
        var result = new List<KeyValue>();
        foreach (var kv in batch.KeyValues.Slice(range))
        {
            result.Add(new KeyValue { Key = batch.GetString(kv.Key), Value = Value(batch, kv.Value) });
        }

        return result;
    }

    private static AnyValue Value(SpanBatch batch, in AnyValueRecord value)
    {
        var result = new AnyValue();
        switch (value.Kind)
        {
            case AnyValueKind.String: result.StringValue = batch.GetString(value.Bytes); break;
            case AnyValueKind.Bool: result.BoolValue = value.BoolValue; break;
            case AnyValueKind.Int: result.IntValue = value.IntValue; break;
            case AnyValueKind.Double: result.DoubleValue = value.DoubleValue; break;
            case AnyValueKind.Bytes: result.BytesValue = ByteString.CopyFrom(batch.Bytes(value.Bytes)); break;
            case AnyValueKind.Array:
                result.ArrayValue = new ArrayValue();
                foreach (var element in batch.ArrayValues.Slice(value.Children))
                {
                    result.ArrayValue.Values.Add(Value(batch, element));
                }

                break;
            case AnyValueKind.KeyValueList:
                result.KvlistValue = new KeyValueList();
                result.KvlistValue.Values.AddRange(KeyValues(batch, value.Children));
                break;
        }

        return result;
    }

    private static ByteString Id(TraceId id)
    {
        var bytes = new byte[16];
        id.WriteBytes(bytes);
        return ByteString.CopyFrom(bytes);
    }

    private static ByteString Id(SpanId id)
    {
        var bytes = new byte[8];
        id.WriteBytes(bytes);
        return ByteString.CopyFrom(bytes);
    }
}
