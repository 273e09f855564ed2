using static TraceStore.Server.Tests.CliRunner;
using System.Text.Json;
using TraceStore.Engine;
using TraceStore.Server.Cli;
using TraceStore.Testing;

namespace TraceStore.Server.Tests;

public sealed class IngestCommandTests : IDisposable
{
    private readonly TempDirectory _data = new("ingest-cli");

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task Captured_payloads_are_ingested_durably_with_their_span_counts()
    {
        var files = TestPayloads.All.Select(f => Path.Combine(TestPayloads.Folder, f.Name)).ToArray();

        var (exit, output, error) = Run(["ingest", "--data", _data.Path, "--format", "json", .. files]);

        Assert.True(exit == 0, error);
        using var json = JsonDocument.Parse(output);
        var results = json.RootElement.GetProperty("files").EnumerateArray().ToList();
        Assert.Equal(TestPayloads.All.Select(f => f.Name), results.Select(r => r.GetProperty("file").GetString()));
        Assert.All(results, r => Assert.Equal("accepted", r.GetProperty("outcome").GetString()));
        Assert.Equal(TestPayloads.All.Select(f => f.SpanCount), results.Select(r => r.GetProperty("accepted_spans").GetInt32()));
        Assert.Equal(
            Enumerable.Range(1, files.Length).Select(i => (long)i),
            results.Select(r => r.GetProperty("wal_sequence").GetInt64()).Order());

        await using var store = Engine.TraceStore.Open(new TraceStoreOptions { DataDirectory = _data.Path });
        Assert.Equal(TestPayloads.All.Sum(f => f.SpanCount), store.GetStats().ReplayedSpans);
    }

    [Fact]
    public void Bad_file_is_refused_with_exit_2_and_good_files_beside_it_are_still_stored()
    {
        var bad = _data.File("bad.pb");
        File.WriteAllBytes(bad, [0x0A, 0x05, 0x01]);
        var good = Path.Combine(TestPayloads.Folder, TestPayloads.All[0].Name);

        var (exit, output, _) = Run("ingest", "--data", _data.Path, bad, good);

        Assert.Equal(IngestCommand.Refused, exit);
        Assert.Contains("bad.pb", output, StringComparison.Ordinal);
        Assert.Contains("rejected", output, StringComparison.Ordinal);
        Assert.Contains("1 of 2 files accepted", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_file_exits_1()
    {
        var (exit, output, _) = Run("ingest", "--data", _data.Path, _data.File("absent.pb"));

        Assert.Equal(IngestCommand.Unreadable, exit);
        Assert.Contains("unreadable", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Folder_open_in_another_store_exits_4()
    {
        await using var store = Engine.TraceStore.Open(new TraceStoreOptions { DataDirectory = _data.Path });

        var (exit, _, error) = Run("ingest", "--data", _data.Path, Path.Combine(TestPayloads.Folder, TestPayloads.All[0].Name));

        Assert.Equal(IngestCommand.StorageFailed, exit);
        Assert.Contains("in use", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Experiment_id_that_cannot_be_stored_is_refused()
    {
        var (exit, output, _) = Run("ingest", "--data", _data.Path, "--experiment", "a\tb", Path.Combine(TestPayloads.Folder, TestPayloads.All[0].Name));

        Assert.Equal(IngestCommand.Refused, exit);
        Assert.Contains("experiment id", output, StringComparison.Ordinal);
    }
}
