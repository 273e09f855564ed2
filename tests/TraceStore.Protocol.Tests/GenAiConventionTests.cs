using System.Buffers;
using TraceStore.Testing;
using TraceStore.Protocol.Content;
using TraceStore.Protocol.GenAi;
using TraceStore.Protocol.Model;
using TraceStore.Protocol.Otlp;
using TraceStore.Protocol.Otlp.Protobuf;
using TraceStore.Protocol.Tests.Support;

namespace TraceStore.Protocol.Tests;

/// <summary>The GenAI mapping, one table per attribute convention, and MLflow's JSON encoding of values.</summary>
public sealed class GenAiConventionTests
{
    public static TheoryData<string, object[], string, string?, string?, string?, string?, string?> Conventions => new()
    {
        // name, attributes (key, value pairs), span type, inputs, outputs, usage "in/out/total[/cacheRead/cacheCreation]", model, provider
        {
            "mlflow keys (Python client: JSON-encoded values)",
            ["mlflow.spanType", "\"CHAT_MODEL\"", "mlflow.spanInputs", "{\"messages\": []}", "mlflow.spanOutputs", "\"hi\"",
             "mlflow.chat.tokenUsage", "{\"input_tokens\": 10, \"output_tokens\": 5, \"total_tokens\": 15, \"cache_read_input_tokens\": 3}",
             "mlflow.llm.model", "\"gpt-4o\"", "mlflow.llm.provider", "\"openai\""],
            "CHAT_MODEL", "{\"messages\": []}", "hi", "10/5/15/3/-", "gpt-4o", "openai"
        },
        {
            "mlflow keys (JS convention: plain strings)",
            ["mlflow.spanType", "RETRIEVER", "mlflow.spanInputs", "{\"query\":\"q\"}", "mlflow.chat.tokenUsage", "{\"input_tokens\":158,\"output_tokens\":14}"],
            "RETRIEVER", "{\"query\":\"q\"}", null, "158/14/172", null, null
        },
        {
            "OpenInference",
            ["openinference.span.kind", "LLM", "input.value", "question", "output.value", "answer", "llm.token_count.prompt", 278L,
             "llm.token_count.completion", 14L, "llm.token_count.total", 292L, "llm.token_count.prompt_details.cache_read", 0L,
             "llm.token_count.prompt_details.cache_write", 7L, "llm.model_name", "gpt-4.1-mini", "llm.provider", "openai"],
            "LLM", "question", "answer", "278/14/292/0/7", "gpt-4.1-mini", "openai"
        },
        {
            "OpenInference embedding model, response model preferred",
            ["openinference.span.kind", "EMBEDDING", "embedding.model_name", "text-embedding-3-small", "llm.response.model_name", "resolved"],
            "EMBEDDING", null, null, null, "resolved", null
        },
        {
            "OTel gen_ai semantic conventions",
            ["gen_ai.operation.name", "chat", "gen_ai.input.messages", "[{\"role\":\"user\"}]", "gen_ai.output.messages", "[{\"role\":\"assistant\"}]",
             "gen_ai.usage.input_tokens", 12L, "gen_ai.usage.output_tokens", 8L, "gen_ai.usage.cache_creation.input_tokens", 4L,
             "gen_ai.request.model", "claude-sonnet", "gen_ai.provider.name", "anthropic"],
            "CHAT_MODEL", "[{\"role\":\"user\"}]", "[{\"role\":\"assistant\"}]", "12/8/20/-/4", "claude-sonnet", "anthropic"
        },
        {
            "OTel gen_ai tool call",
            ["gen_ai.operation.name", "execute_tool", "gen_ai.tool.call.arguments", "{\"city\":\"Paris\"}", "gen_ai.tool.call.result", "sunny"],
            "TOOL", "{\"city\":\"Paris\"}", "sunny", null, null, null
        },
        {
            "Traceloop / OpenLLMetry",
            ["traceloop.span.kind", "workflow", "traceloop.entity.input", "in", "traceloop.entity.output", "out",
             "gen_ai.usage.prompt_tokens", 30L, "gen_ai.usage.completion_tokens", 20L, "llm.usage.total_tokens", 50L, "gen_ai.system", "openai"],
            "WORKFLOW", "in", "out", "30/20/50", null, "openai"
        },
        {
            "mlflow first, then OpenInference, when both are present",
            ["openinference.span.kind", "TOOL", "mlflow.spanType", "\"AGENT\"", "input.value", "oi", "mlflow.spanInputs", "\"ml\"",
             "llm.token_count.prompt", 1L, "mlflow.chat.tokenUsage", "{\"input_tokens\": 9, \"output_tokens\": 1}"],
            "AGENT", "ml", null, "9/1/10", null, null
        },
        {
            "mlflow UNKNOWN is overridden by a convention's kind",
            ["mlflow.spanType", "\"UNKNOWN\"", "openinference.span.kind", "RETRIEVER"],
            "RETRIEVER", null, null, null, null, null
        },
        {
            "custom mlflow span type is kept",
            ["mlflow.spanType", "\"LLM_EMBEDDING\""],
            "LLM_EMBEDDING", null, null, null, null, null
        },
        {
            "no convention at all",
            ["http.request.method", "GET"],
            "UNKNOWN", null, null, null, null, null
        },
        {
            "token counts sent as strings",
            ["llm.token_count.prompt", "100", "llm.token_count.completion", "25"],
            "UNKNOWN", null, null, "100/25/125", null, null
        },
    };

    [Theory]
    [MemberData(nameof(Conventions))]
    public void Convention_maps_to_mlflow_span_facts(string name, object[] attributes, string spanType, string? inputs, string? outputs, string? usage, string? model, string? provider)
    {
        var batch = SingleSpan(attributes);

        var info = GenAiConventions.Describe(batch, batch.Spans[0]);

        Assert.True(spanType == info.SpanType, $"{name}: span type {info.SpanType}");
        Assert.Equal(inputs, GenAiSpan.Text(batch, info.InputsAttribute));
        Assert.Equal(outputs, GenAiSpan.Text(batch, info.OutputsAttribute));
        Assert.Equal(usage, Format(info.Usage));
        Assert.Equal(model, GenAiSpan.Text(batch, info.ModelAttribute));
        Assert.Equal(provider, GenAiSpan.Text(batch, info.ProviderAttribute));
    }

    [Fact]
    public void Session_and_user_come_from_span_attributes()
    {
        var batch = SingleSpan(["session.id", "sess-1", "user.id", "\"user-7\""]);

        var info = GenAiConventions.Describe(batch, batch.Spans[0]);

        Assert.Equal("sess-1", GenAiSpan.Text(batch, info.SessionAttribute));
        Assert.Equal("user-7", GenAiSpan.Text(batch, info.UserAttribute));
    }

    public static TheoryData<string> SingleFileTraces()
    {
        var data = new TheoryData<string>();
        foreach (var (trace, (files, _)) in TestPayloads.Traces.Where(t => t.Value.Files.Length == 1).OrderBy(t => t.Key))
        {
            data.Add(trace);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SingleFileTraces))]
    public void Trace_token_usage_matches_the_manifest_with_the_nested_span_rule(string traceId)
    {
        var (files, expected) = TestPayloads.Traces[traceId];
        var file = TestPayloads.Get(files[0]);
        var batch = new SpanBatch();
        using var decoder = new OtlpRequestDecoder();
        decoder.Decode(new ReadOnlySequence<byte>(file.RawBytes), file.Format == "json" ? OtlpPayloadFormat.Json : OtlpPayloadFormat.Protobuf,
            file.ContentEncoding == "gzip" ? OtlpContentEncoding.Gzip : OtlpContentEncoding.Identity, batch);

        var totals = TraceTokenUsage.Aggregate(batch);
        var actual = totals.Where(t => t.Key.ToHex() == traceId).Select(t => ((long, long, long)?)(t.Value.InputTokens, t.Value.OutputTokens, t.Value.TotalTokens)).SingleOrDefault();

        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Nested_span_usage_is_not_counted_twice()
    {
        var parent = Pb.Span("instrumentation", 0x01).Message(9, Int("llm.token_count.prompt", 10)).Message(9, Int("llm.token_count.completion", 2));
        var child = Pb.Span("sdk", 0x02).Bytes(4, Pb.Id(8, 0x01)).Message(9, Int("gen_ai.usage.input_tokens", 10)).Message(9, Int("gen_ai.usage.output_tokens", 2));
        var sibling = Pb.Span("other call", 0x03).Message(9, Int("gen_ai.usage.input_tokens", 5));
        var batch = new SpanBatch();
        OtlpProtobufDecoder.DecodeMessage(new ReadOnlySequence<byte>(Pb.Request(parent, child, sibling)), batch);

        var total = Assert.Single(TraceTokenUsage.Aggregate(batch)).Value;

        Assert.Equal(new TokenUsage(15, 2, 17), total);
    }

    [Theory]
    [InlineData(1.0, "1.0")]
    [InlineData(0.1, "0.1")]
    [InlineData(-2.5, "-2.5")]
    [InlineData(1e16, "1e+16")]
    [InlineData(1234567890123456.0, "1234567890123456.0")]
    [InlineData(0.0001, "0.0001")]
    [InlineData(0.00001, "1e-05")]
    [InlineData(123456789.123, "123456789.123")]
    [InlineData(1.5e300, "1.5e+300")]
    [InlineData(5e-324, "5e-324")]
    [InlineData(1e22, "1e+22")]
    [InlineData(12345678901234567890.0, "1.2345678901234567e+19")]
    [InlineData(0.0, "0.0")]
    [InlineData(-0.0, "-0.0")]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.NegativeInfinity, "-Infinity")]
    public void Doubles_encode_as_python_repr(double value, string expected) =>
        Assert.Equal(expected, MlflowAttributeJson.PythonFloat(value));

    [Fact]
    public void Values_encode_as_python_json_dumps()
    {
        static Pb Entry(string key, Pb anyValue) => new Pb().String(1, key).Message(2, anyValue);
        var array = new Pb()
            .Message(1, new Pb().String(1, "x\"y"))
            .Message(1, new Pb().VarintField(2, 1))
            .Message(1, new Pb());
        var list = new Pb()
            .Message(1, Entry("a", new Pb().VarintField(3, 1)))
            .Message(1, Entry("b", new Pb().Message(5, array)))
            .Message(1, Entry("ü", new Pb().Fixed64(4, (ulong)BitConverter.DoubleToInt64Bits(2.0))));
        var kvlist = Entry("k", new Pb().Message(6, list));
        var text = new Pb().String(1, "t").Message(2, new Pb().String(1, "line\nbreak\u0001 é"));
        var batch = new SpanBatch();
        OtlpProtobufDecoder.DecodeMessage(new ReadOnlySequence<byte>(Pb.Request(Pb.Span().Message(9, kvlist).Message(9, text))), batch);

        var values = batch.KeyValues.Slice(batch.Spans[0].Attributes).ToArray();

        Assert.Equal("{\"a\": 1, \"b\": [\"x\\\"y\", true, null], \"ü\": 2.0}", MlflowAttributeJson.Encode(batch, values[0].Value));
        Assert.Equal("\"line\\nbreak\\u0001 é\"", MlflowAttributeJson.Encode(batch, values[1].Value));
    }

    private static Pb Int(string key, long value) => new Pb().String(1, key).Message(2, new Pb().VarintField(3, (ulong)value));

    private static SpanBatch SingleSpan(object[] attributes)
    {
        var span = Pb.Span();
        for (var i = 0; i < attributes.Length; i += 2)
        {
            var key = (string)attributes[i];
            span.Message(9, attributes[i + 1] is long n ? Int(key, n) : Pb.StringAttribute(key, (string)attributes[i + 1]));
        }

        var batch = new SpanBatch();
        OtlpProtobufDecoder.DecodeMessage(new ReadOnlySequence<byte>(Pb.Request(span)), batch);
        return batch;
    }

    private static string? Format(TokenUsage? usage) => usage is not { } u
        ? null
        : u.CacheReadInputTokens is null && u.CacheCreationInputTokens is null
            ? $"{u.InputTokens}/{u.OutputTokens}/{u.TotalTokens}"
            : $"{u.InputTokens}/{u.OutputTokens}/{u.TotalTokens}/{u.CacheReadInputTokens?.ToString() ?? "-"}/{u.CacheCreationInputTokens?.ToString() ?? "-"}";
}
