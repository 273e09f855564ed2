using System.Globalization;
using TraceStore.DuckDb;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Traces;
using TraceStore.Protocol.GenAi;
using TraceStore.Protocol.Model;

namespace TraceStore.Engine.Segments;

/// <summary>A trace's latest sealed summary row: the summary, the seal sequence that wrote it, and its distinct
/// "TYPE:name" pairs of spans (the <c>span_type_names</c> column, which <see cref="TraceSummary"/> does not carry).</summary>
internal sealed record SealedSummary(TraceSummary Summary, long SealSequence, IReadOnlyList<string> SpanTypeNames);

/// <summary>
/// Reads of sealed trace data that readers and the hot index share, each one query over the files of the segments
/// named (the caller gets them from the catalog's trace index). Values travel as parameters; only our own file paths
/// are written into the SQL text.
/// </summary>
internal static class SealedTraceQueries
{
    private const string SummaryColumns =
        "trace_id, seal_sequence, experiment_id, request_time_ms, execution_duration_ms, state, request_preview, response_preview, trace_name, session_id, user_id, " +
        "input_tokens, output_tokens, total_tokens, cache_read_input_tokens, cache_creation_input_tokens, span_count, error_span_count, " +
        "service_names, models, span_types, tags, metadata, span_type_names";

    /// <summary>The latest summary (highest seal sequence) of each of <paramref name="traceIds"/> that the
    /// <paramref name="segments"/> hold, by MLflow trace id.</summary>
    public static Dictionary<string, SealedSummary> LatestSummaries(DuckDbConnection connection, IReadOnlyCollection<SegmentInfo> segments, IReadOnlyList<string> traceIds)
    {
        var latest = new Dictionary<string, SealedSummary>(StringComparer.Ordinal);
        if (segments.Count == 0 || traceIds.Count == 0)
        {
            return latest;
        }

        // One id: an equality the Parquet reader prunes row groups with; several: a list parameter.
        var filter = traceIds.Count == 1 ? "trace_id = $1" : "list_contains($1::VARCHAR[], trace_id)";
        using var query = connection.Prepare(
            $"SELECT {SummaryColumns} FROM {Files(segments, SegmentFormat.TracesFile)} WHERE {filter} " +
            "QUALIFY row_number() OVER (PARTITION BY trace_id ORDER BY seal_sequence DESC) = 1");
        if (traceIds.Count == 1)
        {
            query.Bind(1, traceIds[0]);
        }
        else
        {
            query.BindList(1, DuckDbLogicalType.Varchar, traceIds);
        }

        using var result = query.Execute();
        foreach (var row in result.ReadAllRows())
        {
            var summary = SummaryOf(row);
            latest[summary.Summary.TraceId] = summary;
        }

        return latest;
    }

    /// <summary><c>read_parquet([...])</c> of one file of each segment; by name, so segments written by other format
    /// versions (a column more or less) read together.</summary>
    public static string Files(IEnumerable<SegmentInfo> segments, string file) =>
        $"read_parquet([{string.Join(", ", segments.Select(s => DuckDbSql.Literal(Path.Combine(s.Folder, file))))}], union_by_name = true)";

    private static SealedSummary SummaryOf(object?[] r)
    {
        var traceId = (string)r[0]!;
        TokenUsage? usage = r[11] is long input
            ? new TokenUsage(input, (long?)r[12] ?? 0, (long?)r[13] ?? 0, (long?)r[14], (long?)r[15])
            : null;
        var summary = new TraceSummary
        {
            Key = new TraceKey((string)r[2]!, ParseTraceId(traceId)),
            RequestTimeMs = (long)r[3]!,
            ExecutionDurationMs = (long?)r[4],
            State = ParseState((string)r[5]!),
            RequestPreview = (string?)r[6],
            ResponsePreview = (string?)r[7],
            TraceName = (string?)r[8],
            SessionId = (string?)r[9],
            UserId = (string?)r[10],
            TokenUsage = usage,
            SpanCount = (int)r[16]!,
            ErrorSpanCount = (int)r[17]!,
            SizeStats = default,
            ServiceNames = Strings(r[18]),
            Models = Strings(r[19]),
            SpanTypes = Strings(r[20]),
            LowestWalSequence = 0,
            Tags = Map(r[21]),
            Metadata = Map(r[22]),
        };
        return new SealedSummary(summary, (long)r[1]!, Strings(r[23]));
    }

    /// <summary>MLflow's <c>tr-</c> id (or the bare 32 hex digits) as a trace id.</summary>
    public static TraceId ParseTraceId(string traceId)
    {
        var hex = traceId.StartsWith("tr-", StringComparison.Ordinal) ? traceId[3..] : traceId;
        return new TraceId(
            ulong.Parse(hex.AsSpan(0, 16), NumberStyles.HexNumber, CultureInfo.InvariantCulture),
            ulong.Parse(hex.AsSpan(16, 16), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
    }

    private static TraceState ParseState(string state) => state switch
    {
        "OK" => TraceState.Ok,
        "ERROR" => TraceState.Error,
        "IN_PROGRESS" => TraceState.InProgress,
        _ => TraceState.StateUnspecified,
    };

    private static List<string> Strings(object? list) => [.. ((List<object?>)list!).Select(e => (string)e!)];

    private static SortedDictionary<string, string> Map(object? map) =>
        new(((List<KeyValuePair<object, object?>>)map!).ToDictionary(e => (string)e.Key, e => (string)e.Value!), StringComparer.Ordinal);
}
