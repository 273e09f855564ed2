using System.Buffers;
using FsCheck;
using FsCheck.Fluent;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using TraceStore.Protocol.Model;
using TraceStore.Protocol.Otlp;
using TraceStore.Protocol.Otlp.Protobuf;
using TraceStore.Protocol.Tests.Support;
using TraceStore.Testing;

namespace TraceStore.Protocol.Tests;

public sealed class ProtobufDecoderTests
{
    public static TheoryData<string> ProtobufPayloads => TestPayloads.Names("protobuf");

    [Theory]
    [MemberData(nameof(ProtobufPayloads))]
    public void Captured_payload_decodes_to_the_manifest_counts(string name)
    {
        var file = TestPayloads.Get(name);
        var batch = new SpanBatch();

        OtlpProtobufDecoder.DecodeMessage(new ReadOnlySequence<byte>(file.DecodedBytes()), batch);

        Assert.Equal(file.SpanCount, batch.Spans.Count);
        Assert.Equal(0, batch.RejectedSpans);
        Assert.Equal(file.SpansPerTrace, BatchSummary.SpansPerTrace(batch));
        Assert.Equal(file.TraceCount, BatchSummary.SpansPerTrace(batch).Count);
        Assert.Equal(file.RootTraces, BatchSummary.TracesWithRoot(batch));
        Assert.Equal(file.ErrorSpans, BatchSummary.ErrorSpans(batch));
        Assert.Equal(file.ServiceNames, BatchSummary.ServiceNames(batch));
    }

    [Theory]
    [MemberData(nameof(ProtobufPayloads))]
    public void Captured_payload_decodes_exactly_as_google_protobuf_parses_it(string name)
    {
        var bytes = TestPayloads.Get(name).DecodedBytes();
        var batch = new SpanBatch();

        OtlpProtobufDecoder.DecodeMessage(new ReadOnlySequence<byte>(bytes), batch);

        Assert.Equal(BatchToProto.Normalize(ExportTraceServiceRequest.Parser.ParseFrom(bytes)), BatchToProto.Convert(batch));
    }

    [Fact]
    public void Generated_requests_decode_exactly_as_google_protobuf_parses_them()
    {
        var batch = new SpanBatch();
        using var decoder = new OtlpProtobufDecoder();
        Prop.ForAll(OtlpGenerators.Request().ToArbitrary(), request =>
        {
            var bytes = request.ToByteArray();
            decoder.Begin(batch);
            var buffer = new ReadOnlySequence<byte>(bytes);
            decoder.Decode(ref buffer, isFinalBlock: true);
            var expected = BatchToProto.Normalize(ExportTraceServiceRequest.Parser.ParseFrom(bytes));
            var actual = BatchToProto.Convert(batch);
            if (!expected.Equals(actual))
            {
                throw new InvalidOperationException($"decoded differently:\nexpected {expected}\nactual   {actual}");
            }

            return batch.RejectedSpans == 0 && batch.MessageBytes == bytes.Length;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(300));
    }

    [Fact]
    public void Generated_requests_split_into_random_segments_decode_identically()
    {
        var batch = new SpanBatch();
        var gen = from request in OtlpGenerators.Request(maxDepth: 3)
                  from cuts in Gen.Choose(0, 4096).ArrayOf()
                  select (request, cuts);
        Prop.ForAll(gen.ToArbitrary(), input =>
        {
            var bytes = input.request.ToByteArray();
            OtlpProtobufDecoder.DecodeMessage(Sequences.Split(bytes, input.cuts.Select(c => c % (bytes.Length + 1)).ToArray()), batch);
            return BatchToProto.Convert(batch).Equals(BatchToProto.Normalize(input.request));
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(150));
    }

    [Fact]
    public void Two_segment_split_at_every_byte_boundary_decodes_identically()
    {
        var bytes = TestPayloads.Get("j03_mlflow-manual_proto_001.pb").DecodedBytes();
        var batch = new SpanBatch();
        OtlpProtobufDecoder.DecodeMessage(new ReadOnlySequence<byte>(bytes), batch);
        var expected = BatchToProto.Convert(batch);

        for (var cut = 1; cut < bytes.Length; cut++)
        {
            OtlpProtobufDecoder.DecodeMessage(Sequences.Split(bytes, cut), batch);
            Assert.True(expected.Equals(BatchToProto.Convert(batch)), $"split at byte {cut} decoded differently");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(64)]
    public void Small_segments_decode_identically(int segmentSize)
    {
        var bytes = TestPayloads.Get("j01_openai-rag_proto_001.pb").DecodedBytes();
        var batch = new SpanBatch();

        OtlpProtobufDecoder.DecodeMessage(Sequences.Chunked(bytes, segmentSize), batch);

        Assert.Equal(BatchToProto.Normalize(ExportTraceServiceRequest.Parser.ParseFrom(bytes)), BatchToProto.Convert(batch));
    }

    [Fact]
    public void Every_proper_prefix_is_rejected_unless_it_is_itself_a_whole_message()
    {
        var bytes = TestPayloads.Get("j03_mlflow-manual_proto_001.pb").DecodedBytes();
        var boundaries = TopLevelBoundaries(bytes);
        var batch = new SpanBatch();

        for (var length = 0; length < bytes.Length; length++)
        {
            var prefix = new ReadOnlySequence<byte>(bytes, 0, length);
            if (boundaries.Contains(length))
            {
                OtlpProtobufDecoder.DecodeMessage(prefix, batch);
                Assert.Equal(length, batch.MessageBytes);
                continue;
            }

            var error = Assert.Throws<OtlpDecodeException>(() => OtlpProtobufDecoder.DecodeMessage(prefix, batch));
            Assert.True(
                error.Reason is OtlpRejectReason.Truncated or OtlpRejectReason.LengthOutOfRange,
                $"prefix of {length} bytes: {error.Reason} {error.Message}");
        }
    }

    [Fact]
    public void Every_proper_prefix_in_incremental_mode_needs_more_and_resumes_to_the_same_batch()
    {
        var bytes = TestPayloads.Get("j03_mlflow-manual_proto_001.pb").DecodedBytes();
        var whole = new SpanBatch();
        OtlpProtobufDecoder.DecodeMessage(new ReadOnlySequence<byte>(bytes), whole);
        var expected = BatchToProto.Convert(whole);
        var batch = new SpanBatch();
        using var decoder = new OtlpProtobufDecoder();

        for (var length = 0; length < bytes.Length; length += 7)
        {
            decoder.Begin(batch);
            var prefix = new ReadOnlySequence<byte>(bytes, 0, length);
            var spansBefore = batch.Spans.Count;

            Assert.Equal(OtlpDecodeStatus.NeedMoreData, decoder.Decode(ref prefix, isFinalBlock: false));

            // Only whole elements were taken: what is left of the prefix is the start of an incomplete one.
            Assert.Equal(length, decoder.Consumed + prefix.Length);
            Assert.True(batch.Spans.Count >= spansBefore);
            var rest = new ReadOnlySequence<byte>(bytes, (int)decoder.Consumed, bytes.Length - (int)decoder.Consumed);
            Assert.Equal(OtlpDecodeStatus.Completed, decoder.Decode(ref rest, isFinalBlock: true));
            Assert.True(expected.Equals(BatchToProto.Convert(batch)), $"resuming after {length} bytes decoded differently");
        }
    }

    [Fact]
    public void Byte_at_a_time_feeding_decodes_the_same_batch()
    {
        var bytes = TestPayloads.Get("j01_openai-rag_proto_001.pb").DecodedBytes();
        var batch = new SpanBatch();
        using var decoder = new OtlpProtobufDecoder();
        decoder.Begin(batch);

        var buffered = 0;
        var consumed = 0L;
        while (buffered < bytes.Length)
        {
            buffered++;
            var window = new ReadOnlySequence<byte>(bytes, (int)consumed, buffered - (int)consumed);
            decoder.Decode(ref window, isFinalBlock: false);
            consumed = decoder.Consumed;
        }

        var tail = new ReadOnlySequence<byte>(bytes, (int)consumed, bytes.Length - (int)consumed);
        Assert.Equal(OtlpDecodeStatus.Completed, decoder.Decode(ref tail, isFinalBlock: true));
        Assert.Equal(BatchToProto.Normalize(ExportTraceServiceRequest.Parser.ParseFrom(bytes)), BatchToProto.Convert(batch));
    }

    [Fact]
    public void Reused_batch_and_decoder_give_the_same_result_each_time()
    {
        var bytes = TestPayloads.Get("j03_mlflow-manual_proto_002.pb").DecodedBytes();
        var batch = new SpanBatch();
        using var decoder = new OtlpProtobufDecoder();
        ExportTraceServiceRequest? first = null;

        for (var i = 0; i < 3; i++)
        {
            decoder.Begin(batch);
            var buffer = new ReadOnlySequence<byte>(bytes);
            decoder.Decode(ref buffer, isFinalBlock: true);
            first ??= BatchToProto.Convert(batch);
            Assert.Equal(first, BatchToProto.Convert(batch));
        }
    }

    /// <summary>Offsets where a top-level field ends: a prefix ending there is a complete, shorter message.</summary>
    private static HashSet<int> TopLevelBoundaries(byte[] bytes)
    {
        var boundaries = new HashSet<int> { 0 };
        var input = new CodedInputStream(bytes);
        while (!input.IsAtEnd)
        {
            var tag = input.ReadTag();
            input.SkipLastField();
            boundaries.Add((int)input.Position);
        }

        return boundaries;
    }
}
