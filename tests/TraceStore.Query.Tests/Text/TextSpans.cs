using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Trace.V1;
using TraceStore.Query.Tests.Traces;

namespace TraceStore.Query.Tests.Text;

/// <summary>A span whose text the search tests choose: its name, a string attribute <c>note</c>, and optional inputs
/// and outputs (<c>mlflow.spanInputs</c> / <c>mlflow.spanOutputs</c>, so they land in payloads.parquet).</summary>
internal sealed record TextSpan(int Trace, int Span, string Name, string Note, string? Inputs = null, string? Outputs = null);

/// <summary>OTLP requests of <see cref="TextSpan"/>s (span 0 of a trace is its root, the others its children).</summary>
internal static class TextSpans
{
    public static byte[] Body(IEnumerable<TextSpan> spans)
    {
        var scope = new ScopeSpans();
        foreach (var s in spans)
        {
            var traceId = new byte[16];
            SealedTraces.TraceIdOf(s.Trace).WriteBytes(traceId);
            var span = new Span
            {
                TraceId = ByteString.CopyFrom(traceId),
                SpanId = SpanId(s.Trace, s.Span),
                ParentSpanId = s.Span == 0 ? ByteString.Empty : SpanId(s.Trace, 0),
                Name = s.Name,
                StartTimeUnixNano = (ulong)(HotSpans.BaseNs + (s.Span * 1000)),
                EndTimeUnixNano = (ulong)(HotSpans.BaseNs + (s.Span * 1000) + 500),
            };
            span.Attributes.Add(new KeyValue { Key = "note", Value = new AnyValue { StringValue = s.Note } });
            if (s.Inputs is not null)
            {
                span.Attributes.Add(new KeyValue { Key = "mlflow.spanInputs", Value = new AnyValue { StringValue = s.Inputs } });
            }

            if (s.Outputs is not null)
            {
                span.Attributes.Add(new KeyValue { Key = "mlflow.spanOutputs", Value = new AnyValue { StringValue = s.Outputs } });
            }

            scope.Spans.Add(span);
        }

        var request = new ExportTraceServiceRequest { ResourceSpans = { new ResourceSpans { ScopeSpans = { scope } } } };
        return request.ToByteArray();
    }

    public static string Id(int trace) => SealedTraces.Id(trace);

    public static string SpanHex(int trace, int span) => Convert.ToHexStringLower(SpanId(trace, span).ToByteArray());

    private static ByteString SpanId(int trace, int span) => ByteString.CopyFrom([(byte)(trace >> 8), (byte)trace, (byte)(span >> 8), (byte)span, 5, 6, 7, 8]);
}
