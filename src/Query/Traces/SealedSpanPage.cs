using System.Globalization;
using TraceStore.DuckDb;
using TraceStore.Engine.Segments;

namespace TraceStore.Query.Traces;

/// <summary>
/// One page of a trace's sealed spans across the segments that hold it, without reading the whole trace: keyset
/// pagination on (start_time_ns, span_id), each span once.
/// <list type="number">
/// <item>Keys: in each segment, the first <c>limit</c> (start, span id) after the cursor (the files are sorted by
/// trace id, start time and span id, so row-group statistics on start time skip what is before the cursor and a
/// top-N stops early); then across segments, one row per (start, span id), the copy in the lowest seal sequence (the
/// first stored), the first <c>limit</c> of them. Correct because a segment holds a trace's span once: any span among
/// the global first <c>limit</c> is among the first <c>limit</c> of every segment holding it.</item>
/// <item>Rows: for each segment that supplies keys, its spans and payloads of those ids only.</item>
/// </list>
/// Dedupe is by (start time, span id): a client's retry resends the same span with the same start. Two copies of one
/// span id with different start times (a client bug) would read as two spans here, while the whole-trace read keeps
/// the first (docs/reads.md). Cost per page: the keys of about one page per segment, plus the payload rows of the
/// trace in each segment that supplies spans (the payload file has no start-time column to skip by).
/// </summary>
internal static class SealedSpanPage
{
    public static List<SpanRow> Read(DuckDbConnection connection, IReadOnlyList<SegmentInfo> segments, string traceId, SpanCursor after, int limit)
    {
        if (segments.Count == 0)
        {
            return [];
        }

        var keys = Keys(connection, segments, traceId, after, limit);
        var rows = new List<SpanRow>(keys.Count);
        foreach (var group in keys.GroupBy(k => k.Sequence))
        {
            var segment = segments.First(s => s.SealSequence == group.Key);
            rows.AddRange(Rows(connection, segment, traceId, group.Select(k => k.SpanId).ToList(), group.Min(k => k.StartTimeNs), group.Max(k => k.StartTimeNs)));
        }

        rows.Sort(static (a, b) => a.StartTimeNs != b.StartTimeNs ? a.StartTimeNs.CompareTo(b.StartTimeNs) : string.CompareOrdinal(a.SpanId, b.SpanId));
        return rows;
    }

    private static List<(long Sequence, long StartTimeNs, string SpanId)> Keys(DuckDbConnection connection, IReadOnlyList<SegmentInfo> segments, string traceId, SpanCursor after, int limit)
    {
        var perSegment = segments.Select(s =>
            $"(SELECT {s.SealSequence.ToString(CultureInfo.InvariantCulture)}::BIGINT AS seq, start_time_ns, span_id " +
            $"FROM read_parquet({DuckDbSql.Literal(Path.Combine(s.Folder, SegmentFormat.SpansFile))}) " +
            "WHERE trace_id = $1 AND start_time_ns >= $2 AND (start_time_ns > $2 OR span_id > $3) ORDER BY start_time_ns, span_id LIMIT $4)");
        using var query = connection.Prepare(
            $"SELECT seq, start_time_ns, span_id FROM ({string.Join(" UNION ALL ", perSegment)}) " +
            "QUALIFY row_number() OVER (PARTITION BY start_time_ns, span_id ORDER BY seq) = 1 ORDER BY start_time_ns, span_id LIMIT $4");
        query.Bind(1, traceId);
        query.Bind(2, after.StartTimeNs);
        query.Bind(3, after.SpanIdHex);
        query.Bind(4, (long)limit);
        using var result = query.Execute();
        return [.. result.ReadAllRows().Select(r => ((long)r[0]!, (long)r[1]!, (string)r[2]!))];
    }

    /// <summary>The spans <paramref name="spanIds"/> of the trace in one segment, with their payloads, in the column
    /// order of <see cref="SegmentFormat.SpansOfTraceSql"/>.</summary>
    private static IEnumerable<SpanRow> Rows(DuckDbConnection connection, SegmentInfo segment, string traceId, List<string> spanIds, long fromNs, long toNs)
    {
        var spans = DuckDbSql.Literal(Path.Combine(segment.Folder, SegmentFormat.SpansFile));
        var payloads = DuckDbSql.Literal(Path.Combine(segment.Folder, SegmentFormat.PayloadsFile));
        using var query = connection.Prepare(
            "SELECT s.span_id, s.parent_span_id, s.name, s.span_type, s.kind, s.start_time_ns, s.end_time_ns, s.status, s.status_message, " +
            "s.model, s.provider, s.input_tokens, s.output_tokens, s.total_tokens, s.service_name, s.attributes, s.events, " +
            "s.cache_read_input_tokens, s.cache_creation_input_tokens, s.session_id, s.user_id, p.inputs_key, p.inputs, p.outputs_key, p.outputs " +
            $"FROM (SELECT * FROM read_parquet({spans}) WHERE trace_id = $1 AND start_time_ns BETWEEN $2 AND $3 AND list_contains($4::VARCHAR[], span_id)) s " +
            $"LEFT JOIN (SELECT * FROM read_parquet({payloads}) WHERE trace_id = $1 AND list_contains($4::VARCHAR[], span_id)) p ON p.span_id = s.span_id");
        query.Bind(1, traceId);
        query.Bind(2, fromNs);
        query.Bind(3, toNs);
        query.BindList(4, DuckDbLogicalType.Varchar, spanIds);
        using var result = query.Execute();
        return [.. result.ReadAllRows().Select(r => SpanRows.FromSegmentRow(traceId, r))];
    }
}
