using System.Buffers;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;
using TraceStore.Engine.Assembly;
using TraceStore.Protocol.Content;
using TraceStore.Protocol.Model;
using TraceStore.Protocol.Otlp;
using OtlpSpan = OpenTelemetry.Proto.Trace.V1.Span;
using OtlpStatusCode = OpenTelemetry.Proto.Trace.V1.Status.Types.StatusCode;

namespace TraceStore.Engine.Tests.Assembly;

/// <summary>
/// Test traces on the real path: spans built as Google.Protobuf OTLP messages, encoded, decoded by
/// <see cref="OtlpRequestDecoder"/> and copied into a <see cref="TraceBuffer"/> by <see cref="SpanCopier"/>.
/// Every span belongs to trace <see cref="TraceIdBytes"/>; span ids are small integers (0 = none).
/// </summary>
internal static class OtlpTrace
{
    public const string ExperimentId = "7";

    /// <summary>2025-11-21T04:40:00Z in nanoseconds: a whole second, so ms arithmetic in tests stays exact.</summary>
    public const ulong T0 = 1_763_700_000_000_000_000UL;

    public const ulong Ms = 1_000_000UL;

    public static readonly byte[] TraceIdBytes = Convert.FromHexString("0af7651916cd43dd8448eb211c80319c");

    public static TraceKey Key => new(ExperimentId, TraceId.FromBytes(TraceIdBytes));

    public static OtlpSpan Span(ulong spanId, ulong parentId, string name, ulong start = T0, ulong end = T0 + Ms, OtlpStatusCode status = OtlpStatusCode.Unset, params (string Key, object Value)[] attributes)
    {
        var span = new OtlpSpan
        {
            TraceId = ByteString.CopyFrom(TraceIdBytes),
            SpanId = Id(spanId),
            Name = name,
            StartTimeUnixNano = start,
            EndTimeUnixNano = end,
            Status = new Status { Code = status },
        };
        if (parentId != 0)
        {
            span.ParentSpanId = Id(parentId);
        }

        foreach (var (key, value) in attributes)
        {
            span.Attributes.Add(new KeyValue { Key = key, Value = Value(value) });
        }

        return span;
    }

    public static OtlpSpan Root(string name = "root", OtlpStatusCode status = OtlpStatusCode.Ok, params (string Key, object Value)[] attributes) =>
        Span(1, 0, name, status: status, attributes: attributes);

    /// <summary>One export request: the spans under one resource with <paramref name="service"/> as service.name.</summary>
    public static byte[] Request(string service, params OtlpSpan[] spans) => Request((service, spans));

    public static byte[] Request(params (string Service, OtlpSpan[] Spans)[] resources)
    {
        var request = new ExportTraceServiceRequest();
        foreach (var (service, spans) in resources)
        {
            var resourceSpans = new ResourceSpans
            {
                Resource = new Resource { Attributes = { new KeyValue { Key = "service.name", Value = Value(service) } } },
                ScopeSpans = { new ScopeSpans { Spans = { spans } } },
            };
            request.ResourceSpans.Add(resourceSpans);
        }

        return request.ToByteArray();
    }

    /// <summary>Copies every span of every request, in order, into one buffer (WAL sequence = request number, from 1).</summary>
    public static TraceBuffer Buffer(params byte[][] requests)
    {
        var buffer = new TraceBuffer(Key, nowTicks: 0);
        for (var i = 0; i < requests.Length; i++)
        {
            Add(buffer, walSequence: i + 1, requests[i]);
        }

        return buffer;
    }

    /// <summary>Decodes <paramref name="request"/> and copies its spans into <paramref name="buffer"/>; returns how
    /// many were new (not resends).</summary>
    public static int Add(TraceBuffer buffer, long walSequence, byte[] request)
    {
        using var decoder = new OtlpRequestDecoder();
        var batch = new SpanBatch();
        decoder.Decode(new ReadOnlySequence<byte>(request), OtlpPayloadFormat.Protobuf, OtlpContentEncoding.Identity, batch);
        Assert.Equal(0, batch.RejectedSpans);
        var added = 0;
        foreach (ref readonly var span in batch.Spans.AsSpan())
        {
            added += SpanCopier.Copy(batch, span, buffer, walSequence, nowTicks: 0) ? 1 : 0;
        }

        return added;
    }

    public static AnyValue Value(object value) => value switch
    {
        string s => new AnyValue { StringValue = s },
        int i => new AnyValue { IntValue = i },
        long l => new AnyValue { IntValue = l },
        bool b => new AnyValue { BoolValue = b },
        double d => new AnyValue { DoubleValue = d },
        object[] items => new AnyValue { ArrayValue = new ArrayValue { Values = { items.Select(Value) } } },
        _ => throw new ArgumentException($"No AnyValue for {value.GetType()}", nameof(value)),
    };

    private static ByteString Id(ulong id)
    {
        var bytes = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(bytes, id);
        return ByteString.CopyFrom(bytes);
    }
}
