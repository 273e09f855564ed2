using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Trace.V1;
using TraceStore.Engine.Ingest;
using TraceStore.Protocol.Model;
using TraceStore.Protocol.Content;
using StatusCode = OpenTelemetry.Proto.Trace.V1.Status.Types.StatusCode;

namespace TraceStore.Query.Tests.Traces;

/// <summary>A span for read tests: trace number, span number (1-based), parent span number (0: root), start (ns after
/// <see cref="HotSpans.BaseNs"/>), whether it has ended, its status, and whether it carries inputs (a payload).</summary>
internal readonly record struct TestSpan(int Trace, int Span, int Parent, long StartNs = 0, bool Ended = true, StatusCode Status = StatusCode.Unset, bool WithInputs = false);

/// <summary>OTLP requests built with Google.Protobuf for the hot-read tests, decoded by our decoder on ingest.</summary>
internal static class HotSpans
{
    /// <summary>2025-11-21T04:40:00Z in nanoseconds.</summary>
    public const long BaseNs = 1_763_700_000_000_000_000L;

    public static string Id(int trace) => "tr-" + TraceIdOf(trace).ToHex();

    public static TraceId TraceIdOf(int trace) => new(0x5EED_0000_0000_0000UL, (ulong)trace);

    public static string SpanHex(int span) => new SpanId((ulong)span).ToHex();

    public static byte[] Request(IEnumerable<TestSpan> spans)
    {
        var scope = new ScopeSpans();
        foreach (var s in spans)
        {
            var traceId = new byte[16];
            TraceIdOf(s.Trace).WriteBytes(traceId);
            var span = new Span
            {
                TraceId = ByteString.CopyFrom(traceId),
                SpanId = SpanIdBytes(s.Span),
                ParentSpanId = s.Parent == 0 ? ByteString.Empty : SpanIdBytes(s.Parent),
                Name = $"t{s.Trace}-s{s.Span}",
                StartTimeUnixNano = (ulong)(BaseNs + s.StartNs),
                EndTimeUnixNano = s.Ended ? (ulong)(BaseNs + s.StartNs + 500) : 0,
                Status = new Status { Code = s.Status },
            };
            span.Attributes.Add(new KeyValue { Key = "test.span", Value = new AnyValue { IntValue = s.Span } });
            if (s.WithInputs)
            {
                span.Attributes.Add(new KeyValue { Key = "mlflow.spanInputs", Value = new AnyValue { StringValue = $"{{\"n\": {s.Span}}}" } });
            }

            scope.Spans.Add(span);
        }

        var request = new ExportTraceServiceRequest();
        request.ResourceSpans.Add(new ResourceSpans { ScopeSpans = { scope } });
        return request.ToByteArray();
    }

    public static OtlpPayload Payload(params TestSpan[] spans) => new(Request(spans), OtlpPayloadFormat.Protobuf);

    public static SpanBatch Batch(IEnumerable<TestSpan> spans) => TraceStore.Testing.DecodedBatches.Decode(Request(spans));

    private static ByteString SpanIdBytes(int span)
    {
        var bytes = new byte[8];
        new SpanId((ulong)span).WriteBytes(bytes);
        return ByteString.CopyFrom(bytes);
    }
}

/// <summary>A clock the test moves by hand.</summary>
internal sealed class ManualClock : TimeProvider
{
    private long _ticks = 1_000_000;

    public override long TimestampFrequency => 1_000_000;

    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, (long)(by.TotalSeconds * TimestampFrequency));
}
