using System.Text.Json;
using TraceStore.Engine;
using TraceStore.Server.Cli;
using TraceStore.Testing;
using static TraceStore.Server.Tests.CliRunner;

namespace TraceStore.Server.Tests;

public sealed class StoreCommandsTests : IDisposable
{
    private readonly TempDirectory _data = new("store-cli");

    public void Dispose() => _data.Dispose();

    [Fact]
    public void Ingested_payloads_are_open_until_sealed_then_counted_and_readable_as_mlflow_json()
    {
        var files = TestPayloads.All.Select(f => Path.Combine(TestPayloads.Folder, f.Name)).ToArray();
        Assert.Equal(0, Run(["ingest", "--data", _data.Path, .. files]).Exit);

        var before = Stats();
        Assert.Equal(0, before.GetProperty("spans").GetInt64());
        Assert.True(before.GetProperty("open_traces").GetInt64() > 0);

        var (sealExit, sealOutput, _) = Run("seal", "--data", _data.Path);
        Assert.Equal(0, sealExit);
        Assert.Contains("sealed ", sealOutput, StringComparison.Ordinal);

        var after = Stats();
        Assert.Equal(TestPayloads.All.Sum(f => f.SpanCount), after.GetProperty("spans").GetInt64());
        Assert.Equal(0, after.GetProperty("open_traces").GetInt64());
        Assert.Equal(1, after.GetProperty("segments").GetInt64());
        Assert.Equal(["0"], after.GetProperty("experiments").EnumerateArray().Select(e => e.GetString()));

        // A trace that lives in one file: its spans, as MLflow's GetTrace body.
        var (traceHex, count) = TestPayloads.Traces.Where(t => t.Value.Files.Length == 1)
            .Select(t => (t.Key, TestPayloads.Get(t.Value.Files[0]).SpansPerTrace[t.Key]))
            .First();
        var (getExit, json, _) = Run("get", "--data", _data.Path, "tr-" + traceHex, "--format", "json");
        Assert.Equal(0, getExit);
        using var document = JsonDocument.Parse(json);
        var trace = document.RootElement.GetProperty("trace");
        Assert.Equal("tr-" + traceHex, trace.GetProperty("trace_info").GetProperty("trace_id").GetString());
        Assert.Equal(count, trace.GetProperty("spans").GetArrayLength());
    }

    [Fact]
    public void Compact_merges_the_sealed_segments_into_one_and_traces_read_the_same()
    {
        var payloads = TestPayloads.All.Where(f => f.SpanCount > 0).Take(3).ToList();
        foreach (var file in payloads)
        {
            Assert.Equal(0, Run("ingest", "--data", _data.Path, Path.Combine(TestPayloads.Folder, file.Name)).Exit);
            Assert.Equal(0, Run("seal", "--data", _data.Path).Exit);
        }

        var traceId = "tr-" + payloads[0].SpansPerTrace.Keys.First();
        var before = Run("get", "--data", _data.Path, traceId, "--format", "json");
        Assert.Equal(payloads.Count, Stats().GetProperty("segments").GetInt64());

        var (exit, output, error) = Run("compact", "--data", _data.Path, "--format", "json");

        Assert.True(exit == 0, error);
        using var result = JsonDocument.Parse(output);
        Assert.Equal(payloads.Count, result.RootElement.GetProperty("segments_before").GetInt64());
        Assert.Equal(1, result.RootElement.GetProperty("segments_after").GetInt64());
        Assert.Equal(payloads.Count, result.RootElement.GetProperty("segments_merged").GetInt64());
        Assert.Equal(1, Stats().GetProperty("segments").GetInt64());
        Assert.Equal(payloads.Sum(f => f.SpanCount), Stats().GetProperty("spans").GetInt64());
        Assert.Equal(before, Run("get", "--data", _data.Path, traceId, "--format", "json"));

        var (tableExit, table, _) = Run("compact", "--data", _data.Path);
        Assert.Equal(0, tableExit);
        Assert.Contains("segments    1 -> 1 (0 merges", table, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_trace_exits_1_and_a_folder_in_use_exits_4()
    {
        var (exit, _, error) = Run("get", "--data", _data.Path, "tr-00000000000000000000000000000001");
        Assert.Equal(StoreCommands.NotFound, exit);
        Assert.Contains("is not in the store", error, StringComparison.Ordinal);

        await using var store = Engine.TraceStore.Open(new TraceStoreOptions { DataDirectory = _data.Path });
        Assert.Equal(StoreCommands.InUse, Run("stats", "--data", _data.Path).Exit);
        Assert.Equal(StoreCommands.InUse, Run("compact", "--data", _data.Path).Exit);
    }

    [Fact]
    public void Open_trace_is_printed_by_get_and_pages_of_its_spans_chain_through_next_page_token()
    {
        var files = TestPayloads.All.Select(f => Path.Combine(TestPayloads.Folder, f.Name)).ToArray();
        Assert.Equal(0, Run(["ingest", "--data", _data.Path, .. files]).Exit);
        var traceHex = TestPayloads.Traces.Where(t => t.Value.Files.Length == 1)
            .OrderByDescending(t => TestPayloads.Get(t.Value.Files[0]).SpansPerTrace[t.Key])
            .First().Key;

        // Not sealed: `get` reads it from the open traces the store replayed from its WAL.
        var (exit, json, error) = Run("get", "--data", _data.Path, "tr-" + traceHex, "--format", "json");
        Assert.True(exit == 0, error);
        var whole = SpanIds(JsonDocument.Parse(json).RootElement);
        Assert.True(whole.Count >= 3, $"the trace has {whole.Count} spans");

        var paged = new List<string>();
        string? token = null;
        do
        {
            string[] args = ["get", "--data", _data.Path, "tr-" + traceHex, "--format", "json", "--page-size", "2", .. token is null ? Array.Empty<string>() : ["--page-token", token]];
            var (pageExit, pageJson, pageError) = Run(args);
            Assert.True(pageExit == 0, pageError);
            using var page = JsonDocument.Parse(pageJson);
            Assert.Equal("tr-" + traceHex, page.RootElement.GetProperty("trace").GetProperty("trace_info").GetProperty("trace_id").GetString());
            paged.AddRange(SpanIds(page.RootElement));
            token = page.RootElement.TryGetProperty("next_page_token", out var next) ? next.GetString() : null;
        }
        while (token is not null);

        Assert.Equal(whole.Order(StringComparer.Ordinal), paged.Order(StringComparer.Ordinal));
        Assert.Equal(paged.Count, paged.Distinct().Count());

        var (tableExit, table, _) = Run("get", "--data", _data.Path, "tr-" + traceHex, "--page-size", "1");
        Assert.Equal(0, tableExit);
        Assert.Contains("next_page_token ", table, StringComparison.Ordinal);
        Assert.Equal(StoreCommands.InvalidArguments, Run("get", "--data", _data.Path, "tr-" + traceHex, "--page-size", "2", "--page-token", "garbage").Exit);
        Assert.Equal(StoreCommands.InvalidArguments, Run("get", "--data", _data.Path, "tr-" + traceHex, "--page-token", "AQ").Exit);
    }

    private static List<string> SpanIds(JsonElement body) =>
        [.. body.GetProperty("trace").GetProperty("spans").EnumerateArray().Select(s => s.GetProperty("span_id").GetString()!)];

    private JsonElement Stats()
    {
        var (exit, output, error) = Run("stats", "--data", _data.Path, "--format", "json");
        Assert.True(exit == 0, error);
        return JsonDocument.Parse(output).RootElement.Clone();
    }
}
