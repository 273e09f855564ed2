namespace TraceStore.Protocol.Otlp;

/// <summary>
/// Field numbers of the OTLP trace protos (opentelemetry-proto, <c>collector/trace/v1/trace_service.proto</c>,
/// <c>trace/v1/trace.proto</c>, <c>resource/v1/resource.proto</c>, <c>common/v1/common.proto</c>), one nested class
/// per message. The same numbers are in tests/TraceStore.OtlpOracle/Protos, which the differential tests compile.
/// </summary>
internal static class OtlpFields
{
    internal static class ExportTraceServiceRequest
    {
        public const int ResourceSpans = 1;
    }

    internal static class ResourceSpans
    {
        public const int Resource = 1;
        public const int ScopeSpans = 2;
        public const int SchemaUrl = 3;
    }

    internal static class Resource
    {
        public const int Attributes = 1;
        public const int DroppedAttributesCount = 2;
    }

    internal static class ScopeSpans
    {
        public const int Scope = 1;
        public const int Spans = 2;
        public const int SchemaUrl = 3;
    }

    internal static class InstrumentationScope
    {
        public const int Name = 1;
        public const int Version = 2;
        public const int Attributes = 3;
        public const int DroppedAttributesCount = 4;
    }

    internal static class Span
    {
        public const int TraceId = 1;
        public const int SpanId = 2;
        public const int TraceState = 3;
        public const int ParentSpanId = 4;
        public const int Name = 5;
        public const int Kind = 6;
        public const int StartTimeUnixNano = 7;
        public const int EndTimeUnixNano = 8;
        public const int Attributes = 9;
        public const int DroppedAttributesCount = 10;
        public const int Events = 11;
        public const int DroppedEventsCount = 12;
        public const int Links = 13;
        public const int DroppedLinksCount = 14;
        public const int Status = 15;
        public const int Flags = 16;
    }

    internal static class Event
    {
        public const int TimeUnixNano = 1;
        public const int Name = 2;
        public const int Attributes = 3;
        public const int DroppedAttributesCount = 4;
    }

    internal static class Link
    {
        public const int TraceId = 1;
        public const int SpanId = 2;
        public const int TraceState = 3;
        public const int Attributes = 4;
        public const int DroppedAttributesCount = 5;
        public const int Flags = 6;
    }

    internal static class Status
    {
        public const int Message = 2;
        public const int Code = 3;
    }

    internal static class KeyValue
    {
        public const int Key = 1;
        public const int Value = 2;
    }

    internal static class AnyValue
    {
        public const int StringValue = 1;
        public const int BoolValue = 2;
        public const int IntValue = 3;
        public const int DoubleValue = 4;
        public const int ArrayValue = 5;
        public const int KvlistValue = 6;
        public const int BytesValue = 7;
    }

    /// <summary><c>ArrayValue.values</c> and <c>KeyValueList.values</c>.</summary>
    internal static class ValueList
    {
        public const int Values = 1;
    }
}
