using System.Buffers;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using TraceStore.OtlpOracle;
using TraceStore.Protocol.Model;
using TraceStore.Protocol.Otlp;
using TraceStore.Protocol.Otlp.Json;
using TraceStore.Protocol.Tests.Support;
using TraceStore.Testing;

namespace TraceStore.Protocol.Tests;

public sealed class JsonDecoderTests
{
    public static TheoryData<string> JsonPayloads => TestPayloads.Names("json");

    [Theory]
    [MemberData(nameof(JsonPayloads))]
    public void Captured_payload_decodes_to_the_manifest_counts(string name)
    {
        var file = TestPayloads.Get(name);
        var batch = new SpanBatch();

        OtlpJsonDecoder.DecodeMessage(new ReadOnlySequence<byte>(file.DecodedBytes()), batch);

        Assert.Equal(file.SpanCount, batch.Spans.Count);
        Assert.Equal(0, batch.RejectedSpans);
        Assert.Equal(file.SpansPerTrace, BatchSummary.SpansPerTrace(batch));
        Assert.Equal(file.RootTraces, BatchSummary.TracesWithRoot(batch));
        Assert.Equal(file.ErrorSpans, BatchSummary.ErrorSpans(batch));
        Assert.Equal(file.ServiceNames, BatchSummary.ServiceNames(batch));
    }

    [Fact]
    public void Generated_requests_in_otlp_json_decode_exactly_as_the_protobuf_original()
    {
        var batch = new SpanBatch();
        var decoder = new OtlpJsonDecoder();
        var gen = from request in OtlpGenerators.Request()
                  from snakeCase in ArbMap.Default.GeneratorFor<bool>()
                  from upperHex in ArbMap.Default.GeneratorFor<bool>()
                  select (request, snakeCase, upperHex);
        Prop.ForAll(gen.ToArbitrary(), input =>
        {
            var json = OtlpJson.Format(input.request, input.snakeCase, input.upperHex);
            decoder.Decode(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(json)), batch);
            var expected = BatchToProto.Normalize(input.request);
            var actual = BatchToProto.Convert(batch);
            if (!expected.Equals(actual))
            {
                throw new InvalidOperationException($"decoded differently from\n{json}\nexpected {expected}\nactual   {actual}");
            }

            return batch.RejectedSpans == 0;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(300));
    }

    [Fact]
    public void Json_split_into_segments_decodes_identically()
    {
        var bytes = TestPayloads.Get("j04_mlflow-manual_json_001.json").DecodedBytes();
        var batch = new SpanBatch();
        OtlpJsonDecoder.DecodeMessage(new ReadOnlySequence<byte>(bytes), batch);
        var expected = BatchToProto.Convert(batch);

        for (var cut = 1; cut < bytes.Length; cut += 37)
        {
            OtlpJsonDecoder.DecodeMessage(Sequences.Split(bytes, cut, cut + 5, cut + 300), batch);
            Assert.True(expected.Equals(BatchToProto.Convert(batch)), $"split at byte {cut} decoded differently");
        }

        OtlpJsonDecoder.DecodeMessage(Sequences.Chunked(bytes, 3), batch);
        Assert.Equal(expected, BatchToProto.Convert(batch));
    }

    [Fact]
    public void Numbers_as_strings_or_numbers_and_enums_as_names_or_numbers_decode_alike()
    {
        const string AsStrings = """
            {"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174",
            "name":"n","kind":"SPAN_KIND_SERVER","startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000",
            "attributes":[{"key":"i","value":{"intValue":"-42"}},{"key":"d","value":{"doubleValue":"NaN"}}],
            "status":{"code":"STATUS_CODE_ERROR","message":"boom"}}]}]}]}
            """;
        const string AsNumbers = """
            {"resource_spans":[{"scope_spans":[{"spans":[{"trace_id":"5b8efff798038103d269b633813fc60c","span_id":"eee19b7ec3c1b174",
            "name":"n","kind":2,"start_time_unix_nano":1544712660000000000,"end_time_unix_nano":1544712661000000000,
            "attributes":[{"key":"i","value":{"int_value":-42}},{"key":"d","value":{"double_value":"NaN"}}],
            "status":{"code":2,"message":"boom"}}]}]}]}
            """;

        var first = Decode(AsStrings);
        var second = Decode(AsNumbers);

        Assert.Equal(BatchToProto.Convert(first), BatchToProto.Convert(second));
        Assert.Equal(SpanKind.Server, first.Spans[0].Kind);
        Assert.Equal(StatusCode.Error, first.Spans[0].StatusCode);
        Assert.Equal(1544712661000000000UL, first.Spans[0].EndTimeUnixNano);
        Assert.Equal(-42, first.KeyValues[0].Value.IntValue);
        Assert.True(double.IsNaN(first.KeyValues[1].Value.DoubleValue));
    }

    [Fact]
    public void Unknown_fields_and_nulls_are_ignored()
    {
        var batch = Decode("""
            {"extra":{"deep":[1,2,{"x":null}]},"resourceSpans":[{"resource":null,"unknown":true,"scopeSpans":[{"scope":null,
            "spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","parentSpanId":null,"name":"n",
            "futureField":{"a":[]},"status":null,"attributes":null,"events":null}]}]}]}
            """);

        Assert.Equal(1, batch.Spans.Count);
        Assert.True(batch.Spans[0].IsRoot);
    }

    [Fact]
    public void Escaped_strings_are_unescaped()
    {
        var batch = Decode("""
            {"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
            "name":"quote \" slash \\ tab \t \u00e9 \ud83d\ude00"}]}]}]}
            """);

        Assert.Equal("quote \" slash \\ tab \t é 😀", batch.GetString(batch.Spans[0].Name));
    }

    [Theory]
    [InlineData("\"traceId\":\"zz8efff798038103d269b633813fc60c\"", "trace_id is not a hex string")]
    [InlineData("\"traceId\":\"5b8efff798038103d269b633813fc6\"", "trace_id is 15 bytes; it must be 16")]
    [InlineData("\"traceId\":\"00000000000000000000000000000000\"", "trace_id is all zeros")]
    [InlineData("\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"name\":5", "name must be a string, not a number")]
    [InlineData("\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"kind\":\"SPAN_KIND_SIDEWAYS\"", "kind must be one of SPAN_KIND_UNSPECIFIED, SPAN_KIND_INTERNAL, SPAN_KIND_SERVER, SPAN_KIND_CLIENT, SPAN_KIND_PRODUCER, SPAN_KIND_CONSUMER or its number, not a string")]
    [InlineData("\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"startTimeUnixNano\":\"12x\"", "start_time_unix_nano must be an unsigned 64-bit integer, not a string")]
    [InlineData("\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"startTimeUnixNano\":\"9\",\"endTimeUnixNano\":\"5\"", "end_time_unix_nano 5 is before start_time_unix_nano 9")]
    public void Per_span_problem_rejects_only_that_span(string fields, string reason)
    {
        var batch = Decode($$"""
            {"resourceSpans":[{"scopeSpans":[{"spans":[
              {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"kept"},
              {"spanId":"eee19b7ec3c1b175",{{fields}}}]}]}]}
            """);

        Assert.Equal(["kept"], batch.Spans.AsSpan().ToArray().Select(s => batch.GetString(s.Name)));
        Assert.Equal($"resource_spans[0].scope_spans[0].spans[1]: {reason}", batch.FirstRejection);
    }

    [Theory]
    [InlineData("""{"resourceSpans":5}""", OtlpRejectReason.InvalidJson, "", "resource_spans must be an array, not a number")]
    [InlineData("""{"resourceSpans":[{"scopeSpans":[{"spans":[7]}]}]}""", OtlpRejectReason.InvalidJson, "resource_spans[0].scope_spans[0].spans[0]", "spans must be an object, not a number")]
    [InlineData("""{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":{"intValue":"x"}}]}}]}""", OtlpRejectReason.InvalidValue, "resource_spans[0].resource.attributes[0].value", "int_value must be a 64-bit integer, not a string")]
    [InlineData("[]", OtlpRejectReason.InvalidJson, "", "the request must be an object, not an array")]
    public void Structural_problem_rejects_the_request_with_its_path(string json, OtlpRejectReason reason, string path, string detail)
    {
        var error = Assert.Throws<OtlpDecodeException>(() => Decode(json));

        Assert.Equal(reason, error.Reason);
        Assert.Equal(path, error.FieldPath);
        Assert.Equal(detail, error.Detail);
    }

    [Fact]
    public void Malformed_json_is_rejected_with_the_byte_offset()
    {
        var error = Assert.Throws<OtlpDecodeException>(() => Decode("""{"resourceSpans":[{"scopeSpans":[}]}"""));

        Assert.Equal(OtlpRejectReason.InvalidJson, error.Reason);
        Assert.StartsWith("invalid JSON: ", error.Detail, StringComparison.Ordinal);
        Assert.Equal(33, error.Offset); // the "}" that cannot close an array
    }

    [Fact]
    public void Empty_body_is_rejected_and_empty_object_is_an_empty_request()
    {
        Assert.Equal(OtlpRejectReason.InvalidJson, Assert.Throws<OtlpDecodeException>(() => Decode("")).Reason);
        Assert.Equal(0, Decode("{}").Spans.Count);
    }

    [Fact]
    public void Message_over_the_size_limit_is_refused()
    {
        var options = new OtlpDecoderOptions { MaxMessageBytes = 1024 };
        var json = Encoding.UTF8.GetBytes("{\"resourceSpans\":[]" + new string(' ', 2000) + "}");

        var error = Assert.Throws<OtlpDecodeException>(() => OtlpJsonDecoder.DecodeMessage(new ReadOnlySequence<byte>(json), new SpanBatch(), options));

        Assert.Equal(OtlpRejectReason.MessageTooLarge, error.Reason);
    }

    [Fact]
    public void Base64_ids_from_older_exporters_are_accepted()
    {
        var batch = Decode("""
            {"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"W47/95gDgQPSabYzgT/GDA==","spanId":"7uGbfsPBsXQ=","name":"n"}]}]}]}
            """);

        Assert.Equal("5b8efff798038103d269b633813fc60c", batch.Spans[0].TraceId.ToHex());
        Assert.Equal("eee19b7ec3c1b174", batch.Spans[0].SpanId.ToHex());
    }

    private static SpanBatch Decode(string json)
    {
        var batch = new SpanBatch();
        OtlpJsonDecoder.DecodeMessage(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(json)), batch);
        return batch;
    }
}
