using System.Buffers;
using TraceStore.Protocol.Model;
using TraceStore.Protocol.Otlp;
using TraceStore.Protocol.Otlp.Protobuf;
using TraceStore.Protocol.Tests.Support;

namespace TraceStore.Protocol.Tests;

/// <summary>Each validation rule of the protobuf decoder, with the exact error it produces.</summary>
public sealed class ProtobufValidationTests
{
    private const string FirstSpan = "resource_spans[0].scope_spans[0].spans[0]";

    [Fact]
    public void Wrong_wire_type_for_a_known_field_rejects_the_request_with_path_and_offset()
    {
        var bytes = Pb.Request(Pb.Span().VarintField(5, 7));

        var error = Decode(bytes);

        Assert.Equal(OtlpRejectReason.WrongWireType, error.Reason);
        Assert.Equal(FirstSpan, error.FieldPath);
        Assert.Equal("name has wire type 0 (Varint); it must be 2 (LengthDelimited)", error.Detail);
        Assert.Equal(bytes.Length - 1, error.Offset);
    }

    [Theory]
    [InlineData(6)]
    [InlineData(7)]
    public void Wire_type_that_does_not_exist_is_an_invalid_tag(int wireType)
    {
        var error = Decode(Pb.Request(Pb.Span().Tag(20, wireType).Varint(1)));

        Assert.Equal(OtlpRejectReason.InvalidTag, error.Reason);
        Assert.Equal($"field 20 has wire type {wireType}, which does not exist", error.Detail);
        Assert.Equal(FirstSpan, error.FieldPath);
    }

    [Fact]
    public void Field_number_zero_is_an_invalid_tag()
    {
        var error = Decode(Pb.Request(Pb.Span().Tag(0, 0).Varint(1)));

        Assert.Equal(OtlpRejectReason.InvalidTag, error.Reason);
        Assert.Equal("field number 0 is not allowed", error.Detail);
    }

    [Fact]
    public void Varint_longer_than_ten_bytes_overflows()
    {
        var span = Pb.Span().Tag(6, 0).Raw(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01);

        var error = Decode(Pb.Request(span));

        Assert.Equal(OtlpRejectReason.VarintOverflow, error.Reason);
        Assert.Equal("varint overflows 64 bits", error.Detail);
    }

    [Fact]
    public void Length_past_the_end_of_the_enclosing_message_is_out_of_range()
    {
        // An attribute whose key claims 100 bytes inside a 4-byte KeyValue.
        var span = Pb.Span().Message(9, new Pb().Tag(1, 2).Varint(100).Raw(0x61, 0x62));

        var error = Decode(Pb.Request(span));

        Assert.Equal(OtlpRejectReason.LengthOutOfRange, error.Reason);
        Assert.Equal($"{FirstSpan}.attributes[0]", error.FieldPath);
        Assert.Equal("length 100 exceeds the 2 bytes left in the enclosing message", error.Detail);
    }

    [Fact]
    public void Top_level_length_past_the_end_is_truncated()
    {
        var bytes = Pb.Request(Pb.Span());

        var error = Decode(bytes[..^3]);

        Assert.Equal(OtlpRejectReason.Truncated, error.Reason);
        Assert.Contains("the message ends inside", error.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_utf8_in_a_span_rejects_only_that_span()
    {
        var bad = Pb.Span(spanFill: 0x02).Bytes(5, [0x61, 0xC3, 0x28]);

        var batch = DecodeOk(Pb.Request(Pb.Span("first"), bad, Pb.Span("third", 0x03)));

        Assert.Equal(["first", "third"], Names(batch));
        Assert.Equal(1, batch.RejectedSpans);
        Assert.StartsWith("resource_spans[0].scope_spans[0].spans[1]: name is not valid UTF-8 (at byte ", batch.FirstRejection, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_utf8_outside_spans_rejects_the_request()
    {
        var resource = new Pb().Message(1, new Pb().Bytes(1, [0xFF, 0xFE]).Message(2, new Pb().String(1, "v")));

        var error = Decode(Pb.RequestWithResource(resource));

        Assert.Equal(OtlpRejectReason.InvalidUtf8, error.Reason);
        Assert.Equal("resource_spans[0].resource.attributes[0]", error.FieldPath);
        Assert.Equal("key is not valid UTF-8", error.Detail);
    }

    [Theory]
    [InlineData(1, 15, "trace_id is 15 bytes; it must be 16")]
    [InlineData(1, 17, "trace_id is 17 bytes; it must be 16")]
    [InlineData(2, 7, "span_id is 7 bytes; it must be 8")]
    [InlineData(4, 5, "parent_span_id is 5 bytes; it must be 8 or empty")]
    public void Id_of_the_wrong_length_rejects_the_span(int field, int length, string reason)
    {
        var bad = Pb.Span(spanFill: 0x02).Bytes(field, Pb.Id(length));

        var batch = DecodeOk(Pb.Request(Pb.Span("kept"), bad));

        Assert.Equal(["kept"], Names(batch));
        Assert.Equal($"resource_spans[0].scope_spans[0].spans[1]: {reason}", batch.FirstRejection);
    }

    [Fact]
    public void All_zero_or_missing_ids_reject_the_span()
    {
        var zeroTrace = Pb.Span().Bytes(1, new byte[16]);
        var zeroSpan = Pb.Span().Bytes(2, new byte[8]);
        var missingSpanId = new Pb().Bytes(1, Pb.Id(16)).String(5, "no span id");

        var batch = DecodeOk(Pb.Request(zeroTrace, zeroSpan, missingSpanId));

        Assert.Equal(0, batch.Spans.Count);
        Assert.Equal(3, batch.RejectedSpans);
        Assert.Equal($"{FirstSpan}: trace_id is all zeros", batch.FirstRejection);
        Assert.Equal("span_id is all zeros", RejectionOf(Pb.Request(zeroSpan)));
        Assert.Equal("span_id is missing", RejectionOf(Pb.Request(missingSpanId)));
        Assert.Equal("trace_id is missing", RejectionOf(Pb.Request(new Pb().Bytes(2, Pb.Id(8)))));
    }

    [Fact]
    public void All_zero_parent_id_means_a_root_span()
    {
        var batch = DecodeOk(Pb.Request(Pb.Span().Bytes(4, new byte[8])));

        Assert.True(batch.Spans[0].IsRoot);
    }

    [Fact]
    public void End_before_start_rejects_the_span()
    {
        var span = Pb.Span().Fixed64(7, 5000).Fixed64(8, 4000);

        Assert.Equal("end_time_unix_nano 4000 is before start_time_unix_nano 5000", RejectionOf(Pb.Request(span)));
        Assert.Equal(1, DecodeOk(Pb.Request(Pb.Span().Fixed64(8, 0))).Spans.Count);
    }

    [Fact]
    public void Bad_link_ids_reject_the_span()
    {
        var span = Pb.Span().Message(13, new Pb().Bytes(1, Pb.Id(16)).Bytes(2, Pb.Id(3)));

        Assert.Equal("links[0]: trace_id must be 16 bytes and span_id 8 bytes, not all zeros (got 16 and 3 bytes)", RejectionOf(Pb.Request(span)));
    }

    [Fact]
    public void Attribute_nesting_past_the_limit_rejects_the_span_inside_spans_and_the_request_outside()
    {
        var options = new OtlpDecoderOptions { MaxAttributeDepth = 3 };
        var deep = new Pb().String(1, "leaf");
        for (var i = 0; i < 3; i++)
        {
            deep = new Pb().Message(5, new Pb().Message(1, deep));
        }

        var inSpan = Pb.Request(Pb.Span().Message(9, new Pb().String(1, "k").Message(2, deep)));
        var batch = new SpanBatch();
        OtlpProtobufDecoder.DecodeMessage(new ReadOnlySequence<byte>(inSpan), batch, options);
        Assert.Equal(1, batch.RejectedSpans);
        Assert.Equal($"{FirstSpan}: array_value nests deeper than 3 levels", batch.FirstRejection);

        var inResource = Pb.RequestWithResource(new Pb().Message(1, new Pb().String(1, "k").Message(2, deep)));
        var error = Assert.Throws<OtlpDecodeException>(() => OtlpProtobufDecoder.DecodeMessage(new ReadOnlySequence<byte>(inResource), batch, options));
        Assert.Equal(OtlpRejectReason.NestingTooDeep, error.Reason);

        var shallow = new OtlpDecoderOptions { MaxAttributeDepth = 4 };
        OtlpProtobufDecoder.DecodeMessage(new ReadOnlySequence<byte>(inSpan), batch, shallow);
        Assert.Equal(0, batch.RejectedSpans);
    }

    [Fact]
    public void Message_over_the_size_limit_is_refused_before_decoding()
    {
        var options = new OtlpDecoderOptions { MaxMessageBytes = 4096 };
        var bytes = Pb.Request(Pb.Span(new string('x', 5000)));
        using var decoder = new OtlpProtobufDecoder(options);
        decoder.Begin(new SpanBatch());

        // Only the first 16 bytes are buffered, but the header already announces more than the limit.
        var head = new ReadOnlySequence<byte>(bytes, 0, 16);
        var error = Assert.Throws<OtlpDecodeException>(() => decoder.Decode(ref head, isFinalBlock: false));

        Assert.Equal(OtlpRejectReason.MessageTooLarge, error.Reason);
        Assert.Contains("4096-byte limit", error.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Buffered_bytes_over_the_limit_are_refused()
    {
        var options = new OtlpDecoderOptions { MaxMessageBytes = 1024 };
        var bytes = new byte[2048];
        using var decoder = new OtlpProtobufDecoder(options);
        decoder.Begin(new SpanBatch());
        var buffer = new ReadOnlySequence<byte>(bytes);

        Assert.Equal(OtlpRejectReason.MessageTooLarge, Assert.Throws<OtlpDecodeException>(() => decoder.Decode(ref buffer, isFinalBlock: false)).Reason);
    }

    [Fact]
    public void More_spans_than_the_limit_is_refused()
    {
        var options = new OtlpDecoderOptions { MaxSpansPerRequest = 2 };
        var bytes = Pb.Request(Pb.Span("a", 1), Pb.Span("b", 2), Pb.Span("c", 3));

        var error = Assert.Throws<OtlpDecodeException>(() => OtlpProtobufDecoder.DecodeMessage(new ReadOnlySequence<byte>(bytes), new SpanBatch(), options));

        Assert.Equal(OtlpRejectReason.TooManySpans, error.Reason);
        Assert.Equal("resource_spans[0].scope_spans[0].spans[2]", error.FieldPath);
    }

    [Fact]
    public void Unknown_fields_of_every_wire_type_are_skipped_at_every_level()
    {
        static Pb Unknowns(Pb message) => message
            .VarintField(900, 123456789)
            .Fixed64(901, 42)
            .Bytes(902, [1, 2, 3])
            .Fixed32(903, 7)
            .Tag(904, 3).VarintField(1, 5).Bytes(2, [9]).Tag(905, 3).Tag(905, 4).Tag(904, 4);

        var attribute = Unknowns(new Pb().String(1, "k").Message(2, Unknowns(new Pb().String(1, "v"))));
        var span = Unknowns(Pb.Span("s").Message(9, attribute).Message(15, Unknowns(new Pb().VarintField(3, 2))));
        var scopeSpans = Unknowns(new Pb().Message(1, Unknowns(new Pb().String(1, "scope"))).Message(2, span));
        var resourceSpans = Unknowns(new Pb().Message(1, Unknowns(new Pb())).Message(2, scopeSpans));
        var bytes = Unknowns(new Pb().Message(1, resourceSpans)).ToArray();

        var batch = DecodeOk(bytes);

        Assert.Equal(["s"], Names(batch));
        Assert.Equal("scope", batch.GetString(batch.Scopes[0].Name));
        Assert.Equal(StatusCode.Error, batch.Spans[0].StatusCode);
        var kv = batch.KeyValues[batch.Spans[0].Attributes.Start];
        Assert.Equal(("k", "v"), (batch.GetString(kv.Key), batch.GetString(kv.Value.Bytes)));
    }

    [Fact]
    public void Group_end_without_a_start_is_an_invalid_tag()
    {
        var error = Decode(Pb.Request(Pb.Span().Tag(30, 4)));

        Assert.Equal(OtlpRejectReason.InvalidTag, error.Reason);
        Assert.Equal("group end for field 30 without a group start", error.Detail);
    }

    [Fact]
    public void Repeated_scalar_fields_keep_the_last_value()
    {
        var span = Pb.Span("first").String(5, "second").VarintField(6, 2).VarintField(6, 3).Fixed64(8, 9000);

        var batch = DecodeOk(Pb.Request(span));

        Assert.Equal("second", batch.GetString(batch.Spans[0].Name));
        Assert.Equal(SpanKind.Client, batch.Spans[0].Kind);
        Assert.Equal(9000UL, batch.Spans[0].EndTimeUnixNano);
    }

    [Fact]
    public void Fields_in_any_order_decode_the_same()
    {
        var ordered = new Pb().Bytes(1, Pb.Id(16)).Bytes(2, Pb.Id(8)).String(5, "n").Fixed64(7, 1).Fixed64(8, 2)
            .Message(9, Pb.StringAttribute("a", "1")).Message(11, new Pb().String(2, "event")).Message(9, Pb.StringAttribute("b", "2"));
        var shuffled = new Pb().Message(9, Pb.StringAttribute("a", "1")).Fixed64(8, 2).Message(11, new Pb().String(2, "event"))
            .String(5, "n").Message(9, Pb.StringAttribute("b", "2")).Bytes(2, Pb.Id(8)).Fixed64(7, 1).Bytes(1, Pb.Id(16));

        var expected = BatchToProto.Convert(DecodeOk(Pb.Request(ordered)));
        var actual = BatchToProto.Convert(DecodeOk(Pb.Request(shuffled)));

        Assert.Equal(expected, actual);
        Assert.Equal(2, actual.ResourceSpans[0].ScopeSpans[0].Spans[0].Attributes.Count);
    }

    [Fact]
    public void Oneof_keeps_the_last_case_on_the_wire()
    {
        var value = new Pb().String(1, "text").VarintField(3, 42);
        var batch = DecodeOk(Pb.Request(Pb.Span().Message(9, new Pb().String(1, "k").Message(2, value))));

        var kv = batch.KeyValues[batch.Spans[0].Attributes.Start];
        Assert.Equal(AnyValueKind.Int, kv.Value.Kind);
        Assert.Equal(42, kv.Value.IntValue);
    }

    private static OtlpDecodeException Decode(byte[] bytes) =>
        Assert.Throws<OtlpDecodeException>(() => OtlpProtobufDecoder.DecodeMessage(new ReadOnlySequence<byte>(bytes), new SpanBatch()));

    private static SpanBatch DecodeOk(byte[] bytes)
    {
        var batch = new SpanBatch();
        OtlpProtobufDecoder.DecodeMessage(new ReadOnlySequence<byte>(bytes), batch);
        return batch;
    }

    private static string RejectionOf(byte[] bytes)
    {
        var batch = DecodeOk(bytes);
        Assert.Equal(1, batch.RejectedSpans);
        return batch.FirstRejection!.Split(": ", 2)[1];
    }

    private static string[] Names(SpanBatch batch) => batch.Spans.AsSpan().ToArray().Select(s => batch.GetString(s.Name)).ToArray();
}
