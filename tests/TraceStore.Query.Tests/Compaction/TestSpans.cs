using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Trace.V1;
using TraceStore.Protocol.Model;
using TraceStore.Query.Tests.Traces;

namespace TraceStore.Query.Tests.Compaction;

/// <summary>
/// OTLP requests of hand-placed spans, built with Google.Protobuf: span <c>s</c> of trace <c>t</c> has id
/// [t, s, …]; span 0 is the root, every other span its child. Trace ids are <see cref="SealedTraces.TraceIdOf"/>.
/// Each span starts at its Unix millisecond, lasts 5 ms, and carries an input attribute (so it has a payload).
/// </summary>
internal static class TestSpans
{
    public static byte[] Body(params (int Trace, int Span, long StartMs)[] spans)
    {
        var scope = new ScopeSpans();
        foreach (var (trace, span, startMs) in spans)
        {
            var traceId = new byte[16];
            SealedTraces.TraceIdOf(trace).WriteBytes(traceId);
            var otlp = new Span
            {
                TraceId = ByteString.CopyFrom(traceId),
                SpanId = SpanId(trace, span),
                ParentSpanId = span == 0 ? ByteString.Empty : SpanId(trace, 0),
                Name = span == 0 ? $"root-{trace}" : $"child-{trace}-{span}",
                StartTimeUnixNano = (ulong)startMs * 1_000_000,
                EndTimeUnixNano = ((ulong)startMs + 5) * 1_000_000,
            };
            otlp.Attributes.Add(new KeyValue { Key = "mlflow.spanInputs", Value = new AnyValue { StringValue = $"{{\"question\": \"trace {trace} span {span}\"}}" } });
            otlp.Attributes.Add(new KeyValue { Key = "span.index", Value = new AnyValue { IntValue = span } });
            scope.Spans.Add(otlp);
        }

        var request = new ExportTraceServiceRequest { ResourceSpans = { new ResourceSpans { ScopeSpans = { scope } } } };
        return request.ToByteArray();
    }

    public static SpanBatch Batch(params (int Trace, int Span, long StartMs)[] spans) => TraceStore.Testing.DecodedBatches.Decode(Body(spans));

    public static string Id(int trace) => SealedTraces.Id(trace);

    private static ByteString SpanId(int trace, int span) => ByteString.CopyFrom([(byte)(trace >> 8), (byte)trace, (byte)span, 4, 5, 6, 7, 8]);
}
