using System.Text.Json;
using TraceStore.Server.Cli;
using TraceStore.Testing;

namespace TraceStore.Server.Tests;

public sealed class BenchCompactCommandTests
{
    /// <summary>The smallest run: one merge configuration of small spans (8 segments, 62,400 spans, which DuckDB's
    /// plain sort could not merge at 64 MiB), retention over 2 segments, no ingest part.</summary>
    [Fact]
    public void Bench_compact_merges_every_span_and_retention_deletes_about_half()
    {
        using var folder = new TempDirectory("bench-compact");
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exit = TraceStoreCli.Run(
            ["bench", "compact", "--rounds", "1", "--merges", "8 x 8 MiB", "--payloads", "small", "--retention-segments", "2", "--ingest-seconds", "0", "--format", "json", "--data", folder.Path],
            output,
            error);

        Assert.Equal(0, exit);
        using var json = JsonDocument.Parse(output.ToString());
        var merge = Assert.Single(json.RootElement.GetProperty("merge").EnumerateArray());
        Assert.Equal("small", merge.GetProperty("payload").GetString());
        Assert.Equal(0, merge.GetProperty("failed_runs").GetInt32());
        Assert.True(merge.GetProperty("input_spans").GetInt64() > 10_000);
        Assert.True(merge.GetProperty("merge_spans_per_second").GetDouble() > 0);
        Assert.InRange(merge.GetProperty("output_to_input_bytes").GetDouble(), 0.1, 2.0);
        var retention = json.RootElement.GetProperty("retention").EnumerateArray().ToList();
        Assert.Equal(2, retention.Count);
        foreach (var row in retention)
        {
            var traces = row.GetProperty("traces").GetInt64();
            Assert.InRange(row.GetProperty("traces_deleted").GetInt64(), traces / 4, traces * 3 / 4);
        }

        Assert.False(json.RootElement.TryGetProperty("ingest", out _));
    }
}
