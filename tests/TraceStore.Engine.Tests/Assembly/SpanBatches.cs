using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Trace.V1;
using TraceStore.Protocol.Model;
using TraceStore.Testing;

namespace TraceStore.Engine.Tests.Assembly;

/// <summary>A span for assembly tests: trace number, span number (1-based), parent span number (0 = root), end (0 = open).</summary>
internal readonly record struct TestSpan(int Trace, int Span, int Parent, bool Ended = true);

/// <summary>Builds decoded batches the real way: Google.Protobuf encodes an OTLP request, our decoder decodes it.</summary>
internal static class SpanBatches
{
    public static SpanBatch Decode(IEnumerable<TestSpan> spans)
    {
        var scope = new ScopeSpans();
        foreach (var s in spans)
        {
            scope.Spans.Add(new Span
            {
                TraceId = ByteString.CopyFrom(TraceIdBytes(s.Trace)),
                SpanId = ByteString.CopyFrom(SpanIdBytes(s.Span)),
                ParentSpanId = s.Parent == 0 ? ByteString.Empty : ByteString.CopyFrom(SpanIdBytes(s.Parent)),
                Name = $"t{s.Trace}-s{s.Span}",
                StartTimeUnixNano = 1_763_700_000_000_000_000UL + ((ulong)s.Span * 1000),
                EndTimeUnixNano = s.Ended ? 1_763_700_000_000_000_000UL + ((ulong)s.Span * 1000) + 500 : 0,
            });
        }

        var request = new ExportTraceServiceRequest();
        request.ResourceSpans.Add(new ResourceSpans { ScopeSpans = { scope } });
        return DecodedBatches.Decode(request.ToByteArray());
    }

    public static TraceId TraceIdOf(int trace) => TraceId.FromBytes(TraceIdBytes(trace));

    public static SpanId SpanIdOf(int span) => SpanId.FromBytes(SpanIdBytes(span));

    private static byte[] TraceIdBytes(int trace)
    {
        var bytes = new byte[16];
        BitConverter.TryWriteBytes(bytes.AsSpan(8), trace);
        bytes[0] = 0xAB;
        return bytes;
    }

    private static byte[] SpanIdBytes(int span)
    {
        var bytes = new byte[8];
        BitConverter.TryWriteBytes(bytes, span);
        bytes[7] = 0x5A;
        return bytes;
    }
}

/// <summary>A clock the test moves by hand.</summary>
internal sealed class ManualTime : TimeProvider
{
    private long _ticks = 1_000_000;

    public override long TimestampFrequency => 1_000_000;

    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, (long)(by.TotalSeconds * TimestampFrequency));
}
