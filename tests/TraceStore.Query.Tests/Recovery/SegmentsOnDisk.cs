using TraceStore.DuckDb;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Segments;

namespace TraceStore.Query.Tests.Recovery;

/// <summary>What a store folder holds, read with plain DuckDB and the catalog, without opening the store (which would
/// recover it): the committed segments, the segment folders without a catalog row, and rows stored twice.</summary>
internal static class SegmentsOnDisk
{
    /// <summary>The committed segments (by the catalog), the <c>seg-N</c> folders that have no catalog row, and the WAL
    /// position recovery will replay from.</summary>
    public static (IReadOnlyList<SegmentInfo> Committed, IReadOnlyList<string> Uncommitted, long WalNeededFrom) Inspect(string dataFolder)
    {
        using var catalog = SegmentCatalog.Open(dataFolder);
        var committed = catalog.Segments();
        var names = committed.Select(s => Path.GetFileName(s.Folder)).ToHashSet(StringComparer.Ordinal);
        var folder = Path.Combine(dataFolder, "segments");
        var uncommitted = Directory.Exists(folder)
            ? Directory.GetDirectories(folder, "seg-*").Select(Path.GetFileName).Where(n => SegmentFormat.TryParseFolderName(n!, out _) && !names.Contains(n!)).Select(n => n!).Order(StringComparer.Ordinal).ToList()
            : [];
        return (committed, uncommitted, catalog.WalNeededFrom());
    }

    /// <summary>Every (trace id, span id) in the spans file of the segment folder <paramref name="segmentFolder"/>.</summary>
    public static List<(string TraceId, string SpanId)> Spans(string segmentFolder)
    {
        using var database = DuckDbDatabase.OpenInMemory();
        using var connection = database.Connect();
        using var result = connection.Query($"SELECT trace_id, span_id FROM read_parquet({DuckDbSql.Literal(Path.Combine(segmentFolder, SegmentFormat.SpansFile))})");
        return [.. result.ReadAllRows().Select(r => ((string)r[0]!, (string)r[1]!))];
    }

    /// <summary>
    /// Rows a segment holds twice: a span twice in one segment's spans file, or a trace with two summary rows in one
    /// segment (readers take one summary per segment, so a second one is a part the latest summary does not cover).
    /// A span repeated across segments is not listed: the sealer rewrites a trace whole when late spans arrive, and
    /// readers keep each span once. Empty when all is well.
    /// </summary>
    public static List<string> DuplicatedRows(IReadOnlyList<SegmentInfo> segments)
    {
        if (segments.Count == 0)
        {
            return [];
        }

        using var database = DuckDbDatabase.OpenInMemory();
        using var connection = database.Connect();
        var problems = new List<string>();
        foreach (var (file, key) in new[] { (SegmentFormat.SpansFile, "trace_id, span_id"), (SegmentFormat.TracesFile, "trace_id") })
        {
            var files = string.Join(", ", segments.Select(s => DuckDbSql.Literal(Path.Combine(s.Folder, file))));
            using var result = connection.Query($"SELECT filename, {key}, count(*) FROM read_parquet([{files}], filename = true) GROUP BY ALL HAVING count(*) > 1 LIMIT 10");
            problems.AddRange(result.ReadAllRows().Select(r => $"{file}: {string.Join(" ", r.Select(v => v?.ToString()))}"));
        }

        return problems;
    }

    /// <summary>Each trace across <paramref name="segments"/>, straight from the files: its distinct spans (id → name,
    /// status, root or not), its latest summary (the row of the highest seal sequence), and the seal sequences of the
    /// segments whose spans file holds it.</summary>
    public static Dictionary<string, FileTrace> Traces(IReadOnlyList<SegmentInfo> segments)
    {
        var traces = new Dictionary<string, FileTrace>(StringComparer.Ordinal);
        if (segments.Count == 0)
        {
            return traces;
        }

        using var database = DuckDbDatabase.OpenInMemory();
        using var connection = database.Connect();
        string Files(string file) => string.Join(", ", segments.Select(s => DuckDbSql.Literal(Path.Combine(s.Folder, file))));
        using (var summaries = connection.Query(
            $"SELECT trace_id, span_count, error_span_count, state, trace_name FROM read_parquet([{Files(SegmentFormat.TracesFile)}]) " +
            "QUALIFY row_number() OVER (PARTITION BY trace_id ORDER BY seal_sequence DESC) = 1"))
        {
            foreach (var r in summaries.ReadAllRows())
            {
                traces.Add((string)r[0]!, new FileTrace(new FileSummary((int)r[1]!, (int)r[2]!, (string)r[3]!, (string?)r[4]), [], []));
            }
        }

        using (var spans = connection.Query($"SELECT DISTINCT trace_id, span_id, name, status, parent_span_id IS NULL FROM read_parquet([{Files(SegmentFormat.SpansFile)}])"))
        {
            foreach (var r in spans.ReadAllRows())
            {
                if (!traces.TryGetValue((string)r[0]!, out var trace))
                {
                    throw new InvalidOperationException($"{r[0]} has spans in the segments but no summary row");
                }

                trace.Spans.Add(new FileSpan((string)r[1]!, (string)r[2]!, (string)r[3]!, (bool)r[4]!));
            }
        }

        using var holders = connection.Query($"SELECT DISTINCT trace_id, parse_filename(parse_dirpath(filename)) FROM read_parquet([{Files(SegmentFormat.SpansFile)}], filename = true)");
        foreach (var r in holders.ReadAllRows())
        {
            Assert.True(SegmentFormat.TryParseFolderName((string)r[1]!, out var sequence), $"segment folder {r[1]}");
            traces[(string)r[0]!].Segments.Add(sequence);
        }

        return traces;
    }
}

/// <summary>A trace as the segment files hold it: its latest summary, its distinct span rows (a span whose copies
/// differ would be listed twice), and the segments that hold it.</summary>
internal sealed record FileTrace(FileSummary Summary, List<FileSpan> Spans, SortedSet<long> Segments);

internal sealed record FileSummary(int SpanCount, int ErrorSpanCount, string State, string? TraceName);

internal sealed record FileSpan(string SpanId, string Name, string Status, bool IsRoot);
