using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Trace.V1;
namespace TraceStore.OtlpOracle;

/// <summary>OTLP requests built with Google.Protobuf (independent of our decoder) for ingest and load tests.</summary>
public static class OtlpTestRequests
{
    /// <summary>A request of <paramref name="spans"/> spans, each with an attribute of about <paramref name="valueBytes"/>
    /// bytes; the first <paramref name="badIds"/> spans have an all-zero span id (refused per span). Span i is named
    /// "<paramref name="namePrefix"/>-i". Spans come in traces of <paramref name="spansPerTrace"/>: the first of each
    /// trace is its root, the others its children.</summary>
    public static byte[] Protobuf(int spans, int valueBytes = 100, int badIds = 0, int seed = 1, string namePrefix = "span", int spansPerTrace = 1)
    {
        var random = new Random(seed);
        var scope = new ScopeSpans();
        ByteString traceId = ByteString.Empty, rootId = ByteString.Empty;
        for (var i = 0; i < spans; i++)
        {
            var isRoot = i % spansPerTrace == 0;
            if (isRoot)
            {
                traceId = Id(random, 16);
            }

            var span = new Span
            {
                TraceId = traceId,
                ParentSpanId = isRoot ? ByteString.Empty : rootId,
                SpanId = i < badIds ? ByteString.CopyFrom(new byte[8]) : Id(random, 8),
                Name = $"{namePrefix}-{i}",
                StartTimeUnixNano = 1_763_700_000_000_000_000UL + (ulong)i,
                EndTimeUnixNano = 1_763_700_000_000_000_000UL + (ulong)i + 1000,
            };
            if (isRoot)
            {
                rootId = span.SpanId;
            }

            span.Attributes.Add(new KeyValue { Key = "payload", Value = new AnyValue { StringValue = new string('x', valueBytes) } });
            scope.Spans.Add(span);
        }

        var request = new ExportTraceServiceRequest();
        request.ResourceSpans.Add(new ResourceSpans { ScopeSpans = { scope } });
        return request.ToByteArray();
    }

    private static ByteString Id(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        bytes[0] |= 1;
        return ByteString.CopyFrom(bytes);
    }
}
