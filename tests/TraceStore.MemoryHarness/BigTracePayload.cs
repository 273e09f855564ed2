using System.Buffers.Binary;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;

namespace TraceStore.MemoryHarness;

/// <summary>
/// The requests of one very large trace: <see cref="Body"/> holds <see cref="SpansPerRequest"/> children of the root
/// (small spans, about 300 bytes of OTLP each), all of trace <see cref="TraceIdHex"/>; <see cref="Renew"/> rewrites
/// their span ids in place so every request brings new spans without the harness allocating per request.
/// <see cref="RootBody"/> is the root span, sent last, ending after every child.
/// </summary>
internal sealed class BigTracePayload
{
    public const string TraceIdHex = "5a17e0000000000000000000000b16a0";
    private const ulong RootSpanId = 1;
    private const ulong Start = 1_763_700_000_000_000_000UL;
    private readonly int[] _spanIdOffsets;

    public BigTracePayload(int spansPerRequest)
    {
        SpansPerRequest = spansPerRequest;
        var traceId = ByteString.CopyFrom(Convert.FromHexString(TraceIdHex));
        var markers = new List<byte[]>();
        var scope = new ScopeSpans();
        for (var i = 0; i < spansPerRequest; i++)
        {
            // Distinct placeholder ids (high byte 0xee never occurs in the rest of the body) found again below.
            var marker = new byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(marker, 0xee00_0000_0000_0000UL | (uint)(i + 1));
            markers.Add(marker);
            var span = new Span
            {
                TraceId = traceId,
                SpanId = ByteString.CopyFrom(marker),
                ParentSpanId = Id(RootSpanId),
                Name = "tool-call",
                Kind = Span.Types.SpanKind.Internal,
                StartTimeUnixNano = Start + ((ulong)i * 1000),
                EndTimeUnixNano = Start + ((ulong)i * 1000) + 500,
            };
            span.Attributes.Add(new KeyValue { Key = "mlflow.spanType", Value = new AnyValue { StringValue = "\"TOOL\"" } });
            span.Attributes.Add(new KeyValue { Key = "tool.name", Value = new AnyValue { StringValue = $"lookup-{i % 7}" } });
            span.Attributes.Add(new KeyValue { Key = "http.status_code", Value = new AnyValue { IntValue = 200 } });
            span.Attributes.Add(new KeyValue { Key = "detail", Value = new AnyValue { StringValue = new string('d', 120) } });
            scope.Spans.Add(span);
        }

        Body = Request(scope).ToByteArray();
        _spanIdOffsets = [.. markers.Select(m => Body.AsSpan().IndexOf(m))];
        var root = new Span
        {
            TraceId = traceId,
            SpanId = Id(RootSpanId),
            Name = "big-agent-run",
            StartTimeUnixNano = Start,
            EndTimeUnixNano = Start + (1UL << 40),
            Status = new Status { Code = Status.Types.StatusCode.Ok },
        };
        RootBody = Request(new ScopeSpans { Spans = { root } }).ToByteArray();
    }

    public int SpansPerRequest { get; }

    public byte[] Body { get; }

    public byte[] RootBody { get; }

    /// <summary>Gives the children of <see cref="Body"/> the span ids of request number <paramref name="request"/>
    /// (from 0): 2 + request × <see cref="SpansPerRequest"/> onwards, never the root's.</summary>
    public void Renew(long request)
    {
        for (var i = 0; i < _spanIdOffsets.Length; i++)
        {
            BinaryPrimitives.WriteUInt64BigEndian(Body.AsSpan(_spanIdOffsets[i], 8), 2 + ((ulong)request * (ulong)SpansPerRequest) + (ulong)i);
        }
    }

    private static ExportTraceServiceRequest Request(ScopeSpans scope) => new()
    {
        ResourceSpans =
        {
            new ResourceSpans
            {
                Resource = new Resource { Attributes = { new KeyValue { Key = "service.name", Value = new AnyValue { StringValue = "big-trace" } } } },
                ScopeSpans = { scope },
            },
        },
    };

    private static ByteString Id(ulong id)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, id);
        return ByteString.CopyFrom(bytes);
    }
}
