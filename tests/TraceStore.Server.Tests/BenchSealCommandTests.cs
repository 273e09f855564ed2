using System.Globalization;
using System.Text.Json;
using TraceStore.Server.Cli;
using TraceStore.Testing;

namespace TraceStore.Server.Tests;

public sealed class BenchSealCommandTests
{
    /// <summary>The smallest run (small spans, the defaults, no ceiling) with the bytes breakdown: every file's columns
    /// add up to the file, and the files to about what the seal table counts (which leaves out the warm-up rounds).</summary>
    [Fact]
    public void Bench_seal_breakdown_accounts_for_every_byte_of_every_file()
    {
        using var folder = new TempDirectory("bench-seal");
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exit = TraceStoreCli.Run(
            ["bench", "seal", "--seconds", "1", "--kinds", "small", "--configurations", "defaults", "--no-ceiling", "--breakdown", "--format", "json", "--data", folder.Path],
            output,
            error);

        Assert.Equal(0, exit);
        var text = output.ToString();
        using var json = JsonDocument.Parse(text[text.IndexOf('{', StringComparison.Ordinal)..]);
        var seal = Assert.Single(json.RootElement.GetProperty("seal").EnumerateArray());
        var sealed_ = seal.GetProperty("disk_bytes_per_span").GetDouble();
        Assert.InRange(sealed_, 20, 80);
        var rows = json.RootElement.GetProperty("bytes").EnumerateArray()
            .Select(r => (File: r.GetProperty("file").GetString()!, Column: r.GetProperty("column").GetString()!, Bytes: r.GetProperty("disk_bytes_per_span").GetDouble()))
            .ToList();
        var files = rows.GroupBy(r => r.File).ToList();
        Assert.Equal(["attrs.parquet", "payloads.parquet", "spans.parquet", "traces.parquet"], files.Select(f => f.Key).Order(StringComparer.Ordinal));
        foreach (var file in files)
        {
            var whole = Assert.Single(file, r => r.Column == "= whole file").Bytes;
            var parts = file.Where(r => r.Column != "= whole file").ToList();
            Assert.Contains(parts, r => r.Column == "(footer, bloom filters)");
            Assert.Equal(whole, parts.Sum(r => r.Bytes), 0.001 * parts.Count + 0.001);
        }

        Assert.Contains(rows, r => r.File == "spans.parquet" && r.Column == "span_id" && r.Bytes > 4);
        Assert.Contains(rows, r => r.File == "attrs.parquet" && r.Column == "span_row" && r.Bytes > 1);
        var total = rows.Where(r => r.Column == "= whole file").Sum(r => r.Bytes);
        Assert.True(Math.Abs(total - sealed_) < 0.05 * sealed_, string.Create(CultureInfo.InvariantCulture, $"files {total} against sealed {sealed_}"));
    }
}
