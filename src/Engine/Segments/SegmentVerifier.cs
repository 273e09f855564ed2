using TraceStore.DuckDb;
using TraceStore.Engine.Catalog;

namespace TraceStore.Engine.Segments;

/// <summary>What checking the segments found: problems with committed segments (corruption: data the catalog
/// promises is missing or unreadable), folders no catalog row names (left by a crash; harmless, removed at open), and
/// among those the ones compaction replaced whose deletion is pending (<see cref="Retired"/>, also removed at open).</summary>
public sealed record SegmentVerification(int Segments, long Traces, long Spans, long Bytes, IReadOnlyList<string> Problems, IReadOnlyList<string> Uncommitted)
{
    public IReadOnlyList<string> Retired { get; init; } = [];
}

/// <summary>
/// Checks every committed segment against the catalog: its folder and four files exist, each file (and the tag changes
/// file of a compacted segment, when there is one) is Parquet that carries the format version the catalog recorded (one
/// this build reads), and the trace and span counts match the catalog's.
/// </summary>
public static class SegmentVerifier
{
    private static readonly string[] Files = [SegmentFormat.TracesFile, SegmentFormat.SpansFile, SegmentFormat.PayloadsFile, SegmentFormat.AttrsFile];

    public static SegmentVerification Verify(SegmentCatalog catalog)
    {
        var problems = new List<string>();
        var segments = catalog.Segments();
        using var database = DuckDbDatabase.OpenInMemory(new DuckDbDatabaseOptions { Threads = 1 });
        using var connection = database.Connect();
        foreach (var segment in segments)
        {
            var name = Path.GetFileName(segment.Folder);
            var missing = Files.Where(f => !File.Exists(Path.Combine(segment.Folder, f))).ToList();
            if (missing.Count > 0)
            {
                problems.Add($"segment {name}: missing {string.Join(", ", missing)}");
                continue;
            }

            try
            {
                foreach (var file in Files.Append(SegmentFormat.TagChangesFile).Where(f => File.Exists(Path.Combine(segment.Folder, f))))
                {
                    var version = Scalar(connection, $"SELECT decode(value) FROM parquet_kv_metadata({DuckDbSql.Literal(Path.Combine(segment.Folder, file))}) WHERE decode(key) = '{SegmentFormat.VersionKey}'");
                    if (!int.TryParse(version, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number)
                        || number < SegmentFormat.OldestReadableVersion || number > SegmentFormat.Version || number != segment.FormatVersion)
                    {
                        problems.Add($"segment {name}: {file} has format version {version ?? "(none)"}, expected {segment.FormatVersion} (this build reads {SegmentFormat.OldestReadableVersion} to {SegmentFormat.Version})");
                    }
                }

                var traces = long.Parse(Scalar(connection, $"SELECT count(*) FROM read_parquet({DuckDbSql.Literal(Path.Combine(segment.Folder, SegmentFormat.TracesFile))})")!, System.Globalization.CultureInfo.InvariantCulture);
                var spans = long.Parse(Scalar(connection, $"SELECT count(*) FROM read_parquet({DuckDbSql.Literal(Path.Combine(segment.Folder, SegmentFormat.SpansFile))})")!, System.Globalization.CultureInfo.InvariantCulture);
                if (traces != segment.Traces || spans != segment.Spans)
                {
                    problems.Add($"segment {name}: holds {traces} traces and {spans} spans, the catalog says {segment.Traces} and {segment.Spans}");
                }
            }
            catch (DuckDbException e)
            {
                problems.Add($"segment {name}: unreadable: {e.Message}");
            }
        }

        var committed = segments.Select(s => Path.GetFileName(s.Folder)).ToHashSet(StringComparer.Ordinal);
        var retired = catalog.RetiredFolderNames().ToHashSet(StringComparer.Ordinal);
        var unlisted = Directory.Exists(catalog.SegmentsFolder)
            ? Directory.GetDirectories(catalog.SegmentsFolder, "seg-*").Select(Path.GetFileName).Where(n => !committed.Contains(n!)).Select(n => n!).Order(StringComparer.Ordinal).ToList()
            : [];
        return new SegmentVerification(segments.Count, segments.Sum(s => s.Traces), segments.Sum(s => s.Spans), segments.Sum(s => s.Bytes), problems, [.. unlisted.Where(n => !retired.Contains(n))])
        {
            Retired = [.. unlisted.Where(retired.Contains)],
        };
    }

    private static string? Scalar(DuckDbConnection connection, string sql)
    {
        using var result = connection.Query(sql);
        var rows = result.ReadAllRows();
        return rows.Count == 0 ? null : Convert.ToString(rows[0][0], System.Globalization.CultureInfo.InvariantCulture);
    }
}
