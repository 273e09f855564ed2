using TraceStore.DuckDb;

namespace TraceStore.Server.Cli;

/// <summary>
/// Where a store's segment bytes go, per file and per column: the column chunks' compressed sizes (DuckDB's
/// <c>parquet_metadata()</c> <c>total_compressed_size</c>, dictionary and data pages, summed over row groups and
/// segments; a nested column counts under its top-level name) and, per file, what the files hold beyond their column
/// chunks (footer, statistics, bloom filters: "(footer, bloom filters)").
/// </summary>
internal static class SegmentBytes
{
    public sealed record Part(string File, string Column, long Bytes);

    /// <summary>Every column of every Parquet file under <paramref name="segmentsFolder"/>/seg-*/, largest first within
    /// each file, the files largest first.</summary>
    public static List<Part> Measure(string segmentsFolder)
    {
        var folders = Directory.GetDirectories(segmentsFolder, "seg-*").Where(f => !f.EndsWith(".tmp", StringComparison.Ordinal)).ToList();
        var fileBytes = folders
            .SelectMany(f => Directory.GetFiles(f, "*.parquet"))
            .GroupBy(Path.GetFileName)
            .ToDictionary(g => g.Key!, g => g.Sum(path => new FileInfo(path).Length), StringComparer.Ordinal);
        if (fileBytes.Count == 0)
        {
            return [];
        }

        using var database = DuckDbDatabase.OpenInMemory(new DuckDbDatabaseOptions { Threads = 1 });
        using var connection = database.Connect();
        var glob = DuckDbSql.Literal(Path.Combine(segmentsFolder, "seg-*[0-9]", "*.parquet"));
        using var result = connection.Query(
            "SELECT parse_filename(file_name) AS file, split_part(path_in_schema, ', ', 1) AS column_name, " +
            $"sum(total_compressed_size)::BIGINT AS bytes FROM parquet_metadata({glob}) GROUP BY ALL");
        var columns = result.ReadAllRows().Select(r => new Part((string)r[0]!, (string)r[1]!, (long)r[2]!)).ToList();
        var parts = new List<Part>();
        foreach (var (file, total) in fileBytes.OrderByDescending(f => f.Value))
        {
            var ofFile = columns.Where(c => c.File == file).OrderByDescending(c => c.Bytes).ToList();
            parts.AddRange(ofFile);
            parts.Add(new Part(file, "(footer, bloom filters)", total - ofFile.Sum(c => c.Bytes)));
        }

        return parts;
    }
}
