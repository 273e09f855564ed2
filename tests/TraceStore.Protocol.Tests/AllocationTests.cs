using System.Buffers;
using TraceStore.Protocol.GenAi;
using TraceStore.Protocol.Model;
using TraceStore.Protocol.Otlp.Json;
using TraceStore.Protocol.Otlp.Protobuf;
using TraceStore.Testing;

namespace TraceStore.Protocol.Tests;

/// <summary>Once a decoder and batch are warm, decoding allocates nothing that grows with the number of spans.</summary>
public sealed class AllocationTests
{
    private const long ConstantAllowance = 2048;

    [Fact]
    public void Warm_protobuf_decode_allocates_nothing_per_span()
    {
        var bytes = TestPayloads.Get("j03_mlflow-manual_proto_002.pb").DecodedBytes();
        var batch = new SpanBatch();
        using var decoder = new OtlpProtobufDecoder();

        var single = Allocated(() => Decode(decoder, batch, new ReadOnlySequence<byte>(bytes)));
        var segmented = Sequences.Chunked(bytes, 4096);
        var multi = Allocated(() => Decode(decoder, batch, segmented));

        Assert.Equal(500, batch.Spans.Count);
        Assert.True(single <= ConstantAllowance, $"{single} bytes allocated decoding 500 spans from one segment");
        Assert.True(multi <= ConstantAllowance, $"{multi} bytes allocated decoding 500 spans from 4 KiB segments");
    }

    [Fact]
    public void Warm_json_decode_allocates_nothing_per_span()
    {
        var bytes = TestPayloads.Get("j04_mlflow-manual_json_002.json").DecodedBytes();
        var batch = new SpanBatch();
        var decoder = new OtlpJsonDecoder();

        var allocated = Allocated(() => decoder.Decode(new ReadOnlySequence<byte>(bytes), batch));

        Assert.Equal(500, batch.Spans.Count);
        Assert.True(allocated <= ConstantAllowance, $"{allocated} bytes allocated decoding 500 spans of JSON");
    }

    [Fact]
    public void Describing_spans_allocates_nothing()
    {
        var bytes = TestPayloads.Get("j01_openai-rag_proto_001.pb").DecodedBytes();
        var batch = new SpanBatch();
        OtlpProtobufDecoder.DecodeMessage(new ReadOnlySequence<byte>(bytes), batch);

        var allocated = Allocated(() =>
        {
            foreach (ref readonly var span in batch.Spans.AsSpan())
            {
                GenAiConventions.Describe(batch, span);
            }
        });

        Assert.True(allocated == 0, $"{allocated} bytes allocated describing {batch.Spans.Count} spans");
    }

    private static void Decode(OtlpProtobufDecoder decoder, SpanBatch batch, ReadOnlySequence<byte> bytes)
    {
        decoder.Begin(batch);
        decoder.Decode(ref bytes, isFinalBlock: true);
    }

    /// <summary>Bytes allocated by the third run of <paramref name="action"/> (the first two warm buffers and JIT).</summary>
    private static long Allocated(Action action)
    {
        action();
        action();
        var before = GC.GetAllocatedBytesForCurrentThread();
        action();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }
}
