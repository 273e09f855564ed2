using System.Numerics;
using TraceStore.DuckDb;
using TraceStore.Engine.Segments;
using TraceStore.Query.Sql;

namespace TraceStore.Query.Text;

/// <summary>A span a text search matched. Ordered by trace id, then span id (ordinal).</summary>
public readonly record struct TextMatch(string TraceId, string SpanId) : IComparable<TextMatch>
{
    public int CompareTo(TextMatch other)
    {
        var byTrace = string.CompareOrdinal(TraceId, other.TraceId);
        return byTrace != 0 ? byTrace : string.CompareOrdinal(SpanId, other.SpanId);
    }

    public static bool operator <(TextMatch left, TextMatch right) => left.CompareTo(right) < 0;

    public static bool operator <=(TextMatch left, TextMatch right) => left.CompareTo(right) <= 0;

    public static bool operator >(TextMatch left, TextMatch right) => left.CompareTo(right) > 0;

    public static bool operator >=(TextMatch left, TextMatch right) => left.CompareTo(right) >= 0;
}

/// <summary>How a search went: sealed segments answered through their index (of which some were ruled out by it
/// alone), segments scanned whole (no index, or a pattern without a literal run of three bytes), and of the indexed
/// segments' blocks how many were candidates (verified) out of how many.</summary>
public sealed record TextSearchStats(int IndexedSegments, int SkippedSegments, int ScannedSegments, long CandidateBlocks, long Blocks);

/// <summary>The spans that matched (each once, ordered by trace id then span id) and how the search went.</summary>
public sealed record TextSearchResult(IReadOnlyList<TextMatch> Spans, TextSearchStats Stats)
{
    /// <summary>The traces with at least one matching span (MLflow's <c>trace.text</c> semantics), ordered.</summary>
    public IReadOnlyList<string> TraceIds => [.. Spans.Select(s => s.TraceId).Distinct()];
}

/// <summary>
/// <c>span.content LIKE|ILIKE p</c> / <c>trace.text LIKE|ILIKE p</c> over sealed and hot traces (docs/text-search.md).
/// Per search: a snapshot of the session (<see cref="TraceQuerySession.Refresh"/>: hot traces, the catalog's candidate
/// segments for the experiment, deleted traces); for each segment with a text index, the trigrams of the pattern's
/// literal runs (lower-cased by DuckDB as the index was) select candidate blocks of spans, and only those rows are
/// read and verified with DuckDB's exact LIKE/ILIKE over <see cref="TextIndexFormat.SpanTextSql"/>; segments without
/// the index, and patterns without a literal run of 3 bytes, are verified whole; hot spans are always verified whole
/// (they are few). Deleted traces are left out. The pattern, escape and experiment reach DuckDB as parameters only.
/// Not thread-safe (the session is not).
/// </summary>
public sealed class TextSearch(TraceQuerySession session)
{
    /// <summary>Grams looked up per search at most: each further gram narrows little and costs a lookup per segment.</summary>
    private const int MaxGrams = 24;

    /// <summary>Row ranges per verifying query at most (neighbouring ranges are merged beyond it).</summary>
    private const int MaxRanges = 32;

    /// <summary>Above this share of candidate blocks a segment is verified whole (the ranges would read most of it).</summary>
    private const double ScanWholeAbove = 0.5;

    private readonly TraceQuerySession _session = session ?? throw new ArgumentNullException(nameof(session));

    /// <summary>False: every segment is verified whole, as if none had the index (for benchmarks and comparisons).</summary>
    public bool UseIndex { get; init; } = true;

    /// <param name="experimentId">The experiment searched; null: every experiment.</param>
    /// <param name="pattern">A LIKE pattern (<c>%</c>, <c>_</c>; see <see cref="LikePattern"/>).</param>
    /// <param name="ignoreCase">ILIKE when true, LIKE (case-sensitive) when false.</param>
    /// <param name="escape">The pattern's escape character, or none.</param>
    public TextSearchResult Search(string? experimentId, string pattern, bool ignoreCase, char? escape = null)
    {
        var like = LikePattern.Parse(pattern, escape);
        _session.Refresh(experimentId);
        var connection = _session.Connection;
        var grams = Grams(connection, like);
        var matches = new SortedSet<TextMatch>();
        int indexed = 0, skipped = 0, scanned = 0;
        long candidates = 0, blocks = 0;
        foreach (var segment in _session.Segments)
        {
            var spans = DuckDbSql.Literal(Path.Combine(segment.Folder, SegmentFormat.SpansFile));
            var payloads = DuckDbSql.Literal(Path.Combine(segment.Folder, SegmentFormat.PayloadsFile));
            if (grams.Count == 0 || !UseIndex || !TextIndexFormat.HasIndex(segment.Folder))
            {
                scanned++;
                Verify(connection, $"read_parquet({spans})", $"read_parquet({payloads})", like, ignoreCase, experimentId, matches);
                continue;
            }

            indexed++;
            var (candidateBlocks, blockCount) = CandidateBlocks(connection, segment.Folder, grams);
            blocks += blockCount;
            candidates += candidateBlocks.Count;
            if (candidateBlocks.Count == 0)
            {
                skipped++;
            }
            else if (candidateBlocks.Count > blockCount * ScanWholeAbove)
            {
                Verify(connection, $"read_parquet({spans})", $"read_parquet({payloads})", like, ignoreCase, experimentId, matches);
            }
            else
            {
                VerifyBlocks(connection, segment.Folder, candidateBlocks, like, ignoreCase, experimentId, matches);
            }
        }

        Verify(connection, "hot_spans", "hot_payloads", like, ignoreCase, experimentId, matches);
        return new TextSearchResult([.. matches], new TextSearchStats(indexed, skipped, scanned, candidates, blocks));
    }

    /// <summary>The distinct trigrams of the pattern's indexable runs, lower-cased by DuckDB's <c>lower</c> as the
    /// index's text was (so LIKE and ILIKE both look up the folded grams); at most <see cref="MaxGrams"/>, spread
    /// over the runs.</summary>
    private static List<int> Grams(DuckDbConnection connection, LikePattern like)
    {
        var all = new List<int>();
        foreach (var run in like.IndexableRuns)
        {
            using var result = connection.Query("SELECT lower($1)", run);
            using var chunk = result.NextChunk()!;
            var bytes = chunk[0].GetBytes(0);
            for (var i = 0; i + 2 < bytes.Length; i++)
            {
                all.Add(TextIndexFormat.Gram(bytes[i], bytes[i + 1], bytes[i + 2]));
            }
        }

        var distinct = all.Distinct().ToList();
        if (distinct.Count <= MaxGrams)
        {
            return distinct;
        }

        return [.. Enumerable.Range(0, MaxGrams).Select(i => distinct[(int)((long)i * distinct.Count / MaxGrams)])];
    }

    /// <summary>The blocks whose text holds every gram, and the segment's number of blocks.</summary>
    private static (List<int> Blocks, int BlockCount) CandidateBlocks(DuckDbConnection connection, string folder, List<int> grams)
    {
        int blockCount;
        using (var count = connection.Query($"SELECT count(*) FROM read_parquet({TextIndexFormat.BlocksPath(folder)})"))
        {
            blockCount = (int)(long)count.ReadAllRows()[0][0]!;
        }

        var words = (blockCount + 63) / 64;
        var found = new Dictionary<int, ulong[]>();
        var placeholders = string.Join(", ", grams.Select((_, i) => $"${i + 1}"));
        using (var result = connection.Query(
            $"SELECT gram, word, bits FROM read_parquet({TextIndexFormat.GramsPath(folder)}) WHERE gram IN ({placeholders})",
            [.. grams.Cast<object?>()]))
        {
            while (result.NextChunk() is { } chunk)
            {
                using (chunk)
                {
                    for (var i = 0; i < chunk.RowCount; i++)
                    {
                        var gram = chunk[0].GetInt32(i);
                        if (!found.TryGetValue(gram, out var bits))
                        {
                            found[gram] = bits = new ulong[words];
                        }

                        bits[chunk[1].GetInt16(i)] |= chunk[2].GetUInt64(i);
                    }
                }
            }
        }

        var blocks = new List<int>();
        if (found.Count < grams.Count)
        {
            return (blocks, blockCount);
        }

        for (var word = 0; word < words; word++)
        {
            var all = ulong.MaxValue;
            foreach (var bits in found.Values)
            {
                all &= bits[word];
            }

            while (all != 0)
            {
                blocks.Add((word * 64) + BitOperations.TrailingZeroCount(all));
                all &= all - 1;
            }
        }

        return (blocks, blockCount);
    }

    /// <summary>Verifies the rows of the candidate blocks only: their span rows and payload rows as ranges of
    /// <c>file_row_number</c> (neighbouring blocks joined; at most <see cref="MaxRanges"/> ranges per file, joining
    /// the closest when there are more, which only adds rows to verify).</summary>
    private static void VerifyBlocks(DuckDbConnection connection, string folder, List<int> candidateBlocks, LikePattern like, bool ignoreCase, string? experimentId, SortedSet<TextMatch> matches)
    {
        var spanRanges = new List<(long First, long Last)>();
        var payloadRanges = new List<(long First, long Last)>();
        var wanted = candidateBlocks.ToHashSet();
        using (var result = connection.Query($"SELECT block, first_span_row, last_span_row, first_payload_row, last_payload_row FROM read_parquet({TextIndexFormat.BlocksPath(folder)}) ORDER BY block"))
        {
            while (result.NextChunk() is { } chunk)
            {
                using (chunk)
                {
                    for (var i = 0; i < chunk.RowCount; i++)
                    {
                        if (!wanted.Contains(chunk[0].GetInt32(i)))
                        {
                            continue;
                        }

                        spanRanges.Add((chunk[1].GetInt64(i), chunk[2].GetInt64(i)));
                        if (!chunk[3].IsNull(i))
                        {
                            payloadRanges.Add((chunk[3].GetInt64(i), chunk[4].GetInt64(i)));
                        }
                    }
                }
            }
        }

        var parameters = new List<object?>();
        var spansFile = DuckDbSql.Literal(Path.Combine(folder, SegmentFormat.SpansFile));
        var payloadsFile = DuckDbSql.Literal(Path.Combine(folder, SegmentFormat.PayloadsFile));
        var spans = $"(SELECT * FROM read_parquet({spansFile}, file_row_number = true) WHERE {Ranges(spanRanges, parameters)})";
        var payloads = payloadRanges.Count == 0
            ? $"(SELECT * FROM read_parquet({payloadsFile}) LIMIT 0)"
            : $"(SELECT * FROM read_parquet({payloadsFile}, file_row_number = true) WHERE {Ranges(payloadRanges, parameters)})";
        Verify(connection, spans, payloads, like, ignoreCase, experimentId, matches, parameters);
    }

    /// <summary>A filter on <c>file_row_number</c> for the ranges (merged), their bounds appended to
    /// <paramref name="parameters"/> (placeholders $n numbered by their place in it).</summary>
    private static string Ranges(List<(long First, long Last)> ranges, List<object?> parameters)
    {
        var merged = new List<(long First, long Last)>();
        foreach (var range in ranges.OrderBy(r => r.First))
        {
            if (merged.Count > 0 && range.First <= merged[^1].Last + 1)
            {
                merged[^1] = (merged[^1].First, Math.Max(merged[^1].Last, range.Last));
            }
            else
            {
                merged.Add(range);
            }
        }

        while (merged.Count > MaxRanges)
        {
            var closest = Enumerable.Range(1, merged.Count - 1).MinBy(i => merged[i].First - merged[i - 1].Last);
            merged[closest - 1] = (merged[closest - 1].First, merged[closest].Last);
            merged.RemoveAt(closest);
        }

        var terms = new List<string>();
        foreach (var (first, last) in merged)
        {
            parameters.Add(first);
            parameters.Add(last);
            terms.Add($"file_row_number BETWEEN ${parameters.Count - 1} AND ${parameters.Count}");
        }

        return "(" + string.Join(" OR ", terms) + ")";
    }

    /// <summary>Adds the spans of <paramref name="spans"/> (a spans file or table, possibly filtered) whose text
    /// matches, with their payloads from <paramref name="payloads"/>, of the experiment, not deleted.
    /// <paramref name="parameters"/> holds the values the two sources' placeholders name ($1 on); the pattern, escape
    /// and experiment follow them.</summary>
    private static void Verify(DuckDbConnection connection, string spans, string payloads, LikePattern like, bool ignoreCase, string? experimentId, SortedSet<TextMatch> matches, List<object?>? parameters = null)
    {
        parameters ??= [];
        string Parameter(object value)
        {
            parameters.Add(value);
            return "$" + parameters.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        var op = ignoreCase ? "ILIKE" : "LIKE";
        var text = $"{TextIndexFormat.SpanTextSql("s", "p")} {op} {Parameter(like.Pattern)}" + (like.Escape is { } e ? $" ESCAPE {Parameter(e.ToString())}" : "");
        var experiment = experimentId is null ? "" : $"s.experiment_id = {Parameter(experimentId)} AND ";
        var sql =
            $"SELECT DISTINCT s.trace_id, s.span_id FROM {spans} s LEFT JOIN {payloads} p ON p.trace_id = s.trace_id AND p.span_id = s.span_id " +
            $"WHERE {experiment}s.trace_id NOT IN (SELECT trace_id FROM deleted_traces) AND {text}";
        using var result = connection.Query(sql, [.. parameters]);
        while (result.NextChunk() is { } chunk)
        {
            using (chunk)
            {
                for (var i = 0; i < chunk.RowCount; i++)
                {
                    matches.Add(new TextMatch(chunk[0].GetString(i), chunk[1].GetString(i)));
                }
            }
        }
    }
}
