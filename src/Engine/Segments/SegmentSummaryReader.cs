using System.Globalization;
using TraceStore.DuckDb;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Traces;
using TraceStore.Protocol.GenAi;
using TraceStore.Protocol.Model;

namespace TraceStore.Engine.Segments;

/// <summary>
/// Reads one trace's summary row back from a segment's <c>traces.parquet</c>. The size statistics come back only as
/// the <c>mlflow.trace.sizeStats</c> metadata text (<see cref="TraceSummary.SizeStats"/> is left default), and
/// <see cref="TraceSummary.LowestWalSequence"/> is 0: a sealed summary holds no WAL.
/// </summary>
internal static class SegmentSummaryReader
{
    public static TraceSummary? Read(DuckDbConnection connection, SegmentInfo segment, string traceId)
    {
        var file = DuckDbSql.Literal(Path.Combine(segment.Folder, SegmentFormat.TracesFile));
        using var query = connection.Prepare(
            $"SELECT experiment_id, request_time_ms, execution_duration_ms, state, request_preview, response_preview, trace_name, session_id, user_id, " +
            $"input_tokens, output_tokens, total_tokens, cache_read_input_tokens, cache_creation_input_tokens, span_count, error_span_count, " +
            $"service_names, models, span_types, tags, metadata FROM read_parquet({file}) WHERE trace_id = $1");
        query.Bind(1, traceId);
        using var result = query.Execute();
        var rows = result.ReadAllRows();
        if (rows.Count == 0)
        {
            return null;
        }

        var r = rows[0];
        TokenUsage? usage = r[9] is long input
            ? new TokenUsage(input, (long?)r[10] ?? 0, (long?)r[11] ?? 0, (long?)r[12], (long?)r[13])
            : null;
        return new TraceSummary
        {
            Key = new TraceKey((string)r[0]!, ParseTraceId(traceId)),
            RequestTimeMs = (long)r[1]!,
            ExecutionDurationMs = (long?)r[2],
            State = ParseState((string)r[3]!),
            RequestPreview = (string?)r[4],
            ResponsePreview = (string?)r[5],
            TraceName = (string?)r[6],
            SessionId = (string?)r[7],
            UserId = (string?)r[8],
            TokenUsage = usage,
            SpanCount = (int)r[14]!,
            ErrorSpanCount = (int)r[15]!,
            SizeStats = default,
            ServiceNames = Strings(r[16]),
            Models = Strings(r[17]),
            SpanTypes = Strings(r[18]),
            LowestWalSequence = 0,
            Tags = Map(r[19]),
            Metadata = Map(r[20]),
        };
    }

    /// <summary>The OpenTelemetry trace id of MLflow id <paramref name="traceId"/> (<c>tr-</c> + 32 hex, or the 32 hex).</summary>
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
