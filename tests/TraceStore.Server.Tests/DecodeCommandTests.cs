using static TraceStore.Server.Tests.CliRunner;
using System.Text.Json;
using TraceStore.Server.Cli;
using TraceStore.Testing;

namespace TraceStore.Server.Tests;

public sealed class DecodeCommandTests
{
    [Fact]
    public void Decode_prints_counts_roots_token_totals_and_span_types()
    {
        var (exit, output, _) = Run("decode", Payload("j01_openai-rag_proto_001.pb"));

        Assert.Equal(0, exit);
        Assert.Contains("spans       26", output, StringComparison.Ordinal);
        Assert.Contains("traces      5", output, StringComparison.Ordinal);
        Assert.Contains("tr-59e386fa8f37a20dc41149ed61224889", output, StringComparison.Ordinal);
        Assert.Contains("rag_agent (ERROR)", output, StringComparison.Ordinal);
        Assert.Matches(@"tr-25f3de843855e5e8172e5fb702b0e14a\s+10\s+rag_agent \(OK\)\s+1641\s+125\s+1766", output);
        Assert.Contains("LLM 8", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_as_json_reads_gzip_json_payloads()
    {
        var (exit, output, _) = Run("decode", Payload("j06_mlflow-manual_json-gzip_002.json.gz"), "--format", "json");

        Assert.Equal(0, exit);
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        Assert.Equal("json", root.GetProperty("format").GetString());
        Assert.Equal("gzip", root.GetProperty("content_encoding").GetString());
        Assert.Equal(60, root.GetProperty("spans").GetInt32());
        var trace = root.GetProperty("traces")[0];
        Assert.Equal("tr-29c7eb5c809e29181f60fda9940b79b4", trace.GetProperty("trace_id").GetString());
        Assert.Equal("batch_evaluator", trace.GetProperty("root_span").GetString());
        Assert.Equal(20, trace.GetProperty("span_types").GetProperty("LLM").GetInt32());
    }

    [Fact]
    public void Decode_reports_partial_success_rejections()
    {
        using var folder = new TempDirectory();
        var file = folder.File("bad-id.json");
        File.WriteAllText(file, """
            {"resourceSpans":[{"scopeSpans":[{"spans":[
              {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"ok"},
              {"traceId":"5b8efff798038103d269b633813fc6","spanId":"eee19b7ec3c1b175","name":"short id"}]}]}]}
            """);

        var (exit, output, _) = Run("decode", file);

        Assert.Equal(0, exit);
        Assert.Contains("spans       1 (1 rejected)", output, StringComparison.Ordinal);
        Assert.Contains("first: resource_spans[0].scope_spans[0].spans[1]: trace_id is 15 bytes; it must be 16", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Refused_body_exits_2_with_the_error_on_stderr()
    {
        using var folder = new TempDirectory();
        var file = folder.File("garbage.pb");
        File.WriteAllBytes(file, "garbage\n"u8.ToArray());

        var (exit, output, error) = Run("decode", file);

        Assert.Equal(DecodeCommand.Refused, exit);
        Assert.Equal("", output);
        Assert.Contains("garbage.pb refused (InvalidTag)", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_file_exits_1()
    {
        var (exit, _, error) = Run("decode", "/no/such/file.pb");

        Assert.Equal(DecodeCommand.Unreadable, exit);
        Assert.Contains("cannot read /no/such/file.pb", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Explicit_content_type_overrides_the_file_name()
    {
        using var folder = new TempDirectory();
        var file = folder.File("payload.bin");
        File.Copy(Payload("j04_mlflow-manual_json_001.json"), file);

        Assert.Equal(DecodeCommand.Refused, Run("decode", file).Exit);
        Assert.Equal(0, Run("decode", file, "--content-type", "json").Exit);
    }

    private static string Payload(string name) => Path.Combine(RepositoryPaths.OtlpTestData, name);
}

public sealed class BenchDecodeCommandTests
{
    [Fact]
    public void Bench_decode_reports_every_decoder_for_both_payloads_with_ratios()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exit = TraceStoreCli.Run(["bench", "decode", "--seconds", "0.5", "--format", "json"], output, error);

        Assert.Equal(0, exit);
        using var json = JsonDocument.Parse(output.ToString());
        var rows = json.RootElement.EnumerateArray().ToList();
        Assert.Equal(8, rows.Count);
        foreach (var payload in new[] { "small", "genai" })
        {
            var decoders = rows.Where(r => r.GetProperty("payload").GetString() == payload).ToList();
            Assert.Equal(["Google.Protobuf ParseFrom", "TraceStore protobuf", "Google.Protobuf JsonParser", "TraceStore JSON"], decoders.Select(r => r.GetProperty("decoder").GetString()));
            Assert.All(decoders, r => Assert.True(r.GetProperty("spans_per_second").GetDouble() > 0));
            Assert.True(decoders[1].TryGetProperty("speedup_vs_baseline", out _));
            Assert.False(decoders[0].TryGetProperty("speedup_vs_baseline", out _));
        }
    }
}
