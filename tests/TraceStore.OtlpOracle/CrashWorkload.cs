using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;

namespace TraceStore.OtlpOracle;

/// <summary>A span of a <see cref="CrashWorkload"/> request: trace number, span id, parent span id (0 for a root) and name.</summary>
public sealed record WorkloadSpan(long Trace, ulong SpanId, ulong ParentSpanId, string Name)
{
    public bool IsRoot => ParentSpanId == 0;
}

/// <summary>
/// Requests for crash tests in which traces arrive across requests, so the sealer's merge of late spans with a trace's
/// sealed parts runs while the process is killed. What request <c>n</c> holds depends only on the workload and
/// <c>n</c>: a test that knows which requests were acknowledged knows exactly which spans must have survived, whichever
/// producer sent them and in whatever order.
/// </summary>
public static class CrashWorkload
{
    /// <summary>Request n: trace n's two children and its root (held back to request n + 1 when n % 3 == 0: the root
    /// arrives after its children, sometimes after they were sealed), a late child of trace n - 32 (sealed by then,
    /// usually), and when n % 5 == 0 a resend of a child of trace n - 16 (a client's retry, often after the seal).</summary>
    public const string LateSpans = "late-spans";

    /// <summary>Request n adds three children to one of 4 long traces (trace n / 256 * 4 + n % 4), and the trace's root
    /// on every other round: with a small part size the traces are sealed in many parts, each merged with the ones
    /// before; roots arrive late and are resent.</summary>
    public const string Parts = "parts";

    public static readonly IReadOnlyList<string> All = [LateSpans, Parts];

    /// <summary>2025-11-21T04:40:00Z in nanoseconds.</summary>
    private const ulong T0 = 1_763_700_000_000_000_000UL;

    /// <summary>The spans of request <paramref name="request"/> under <paramref name="workload"/>, in the order sent.</summary>
    public static IReadOnlyList<WorkloadSpan> Spans(string workload, long request) => workload switch
    {
        LateSpans => LateSpansRequest(request),
        Parts => PartsRequest(request),
        _ => throw new ArgumentException($"Unknown workload '{workload}'; known: {string.Join(", ", All)}.", nameof(workload)),
    };

    /// <summary>Request <paramref name="request"/> as an OTLP protobuf body. Every span carries a payload attribute of
    /// <paramref name="valueBytes"/> bytes; roots carry MLflow inputs and outputs, so payloads go through the merge too;
    /// every 7th trace's root has status ERROR.</summary>
    public static byte[] Request(string workload, long request, int valueBytes)
    {
        var scope = new ScopeSpans();
        foreach (var s in Spans(workload, request))
        {
            var start = T0 + ((ulong)s.Trace * 1_000_000UL) + ((s.SpanId & 0xFF) * 1_000UL);
            var span = new Span
            {
                TraceId = ByteString.CopyFrom(TraceIdBytes(s.Trace)),
                SpanId = ByteString.CopyFrom(IdBytes(s.SpanId)),
                ParentSpanId = s.IsRoot ? ByteString.Empty : ByteString.CopyFrom(IdBytes(s.ParentSpanId)),
                Name = s.Name,
                StartTimeUnixNano = start,
                EndTimeUnixNano = start + 500_000UL,
                Status = new Status { Code = s.IsRoot && s.Trace % 7 == 0 ? Status.Types.StatusCode.Error : Status.Types.StatusCode.Ok },
            };
            span.Attributes.Add(Attribute("payload", new string('x', valueBytes)));
            if (s.IsRoot)
            {
                span.Attributes.Add(Attribute("mlflow.spanInputs", $"{{\"question\": \"q{s.Trace}\"}}"));
                span.Attributes.Add(Attribute("mlflow.spanOutputs", $"{{\"answer\": \"a{s.Trace}\"}}"));
            }

            scope.Spans.Add(span);
        }

        var resource = new Resource { Attributes = { Attribute("service.name", "crash-" + workload) } };
        var body = new ExportTraceServiceRequest { ResourceSpans = { new ResourceSpans { Resource = resource, ScopeSpans = { scope } } } };
        return body.ToByteArray();
    }

    /// <summary>MLflow's id of trace number <paramref name="trace"/>: <c>tr-</c> and 32 lowercase hex digits.</summary>
    public static string TraceId(long trace) => "tr-" + Convert.ToHexStringLower(TraceIdBytes(trace));

    /// <summary>A span id as stored in segments: 16 lowercase hex digits.</summary>
    public static string SpanIdHex(ulong spanId) => Convert.ToHexStringLower(IdBytes(spanId));

    private static List<WorkloadSpan> LateSpansRequest(long n)
    {
        var spans = new List<WorkloadSpan> { Child(n, 2), Child(n, 3) };
        if (n % 3 != 0)
        {
            spans.Add(Root(n));
        }

        if ((n - 1) % 3 == 0)
        {
            spans.Add(Root(n - 1));
        }

        spans.Add(Child(n - 32, 4));
        if (n % 5 == 0)
        {
            spans.Add(Child(n - 16, 2));
        }

        return spans;
    }

    private static List<WorkloadSpan> PartsRequest(long n)
    {
        var trace = (n / 256 * 4) + (n % 4);
        var spans = new List<WorkloadSpan>(4);
        for (var k = 1; k <= 3; k++)
        {
            var id = ((ulong)n << 8) | (ulong)(uint)(0x10 + k);
            spans.Add(new WorkloadSpan(trace, id, RootId(trace), $"t{trace}-r{n}-c{k}"));
        }

        if (n / 4 % 2 == 1)
        {
            spans.Add(Root(trace));
        }

        return spans;
    }

    private static WorkloadSpan Root(long trace) => new(trace, RootId(trace), 0, $"t{trace}-root");

    private static WorkloadSpan Child(long trace, int k) => new(trace, ((ulong)trace << 8) | (ulong)(uint)k, RootId(trace), $"t{trace}-c{k}");

    private static ulong RootId(long trace) => ((ulong)trace << 8) | 1;

    private static KeyValue Attribute(string key, string value) => new() { Key = key, Value = new AnyValue { StringValue = value } };

    private static byte[] TraceIdBytes(long trace)
    {
        var bytes = new byte[16];
        "crashwl!"u8.CopyTo(bytes);
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(bytes.AsSpan(8), trace);
        return bytes;
    }

    private static byte[] IdBytes(ulong id)
    {
        var bytes = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(bytes, id);
        return bytes;
    }
}
