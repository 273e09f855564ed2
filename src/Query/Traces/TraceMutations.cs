using System.Text.RegularExpressions;
using TraceStore.DuckDb;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Segments;

namespace TraceStore.Query.Traces;

/// <summary>
/// Tag changes, deletions and run links on stored traces, with MLflow's validation and semantics (mlflow-tracing.md d.1, d.2, g):
/// tag keys of at most 250 characters from <c>[/\w.\- :]</c> that do not normalise to another path, values cut to
/// 8,000 characters; deleting a tag the trace does not have is "not found"; trace deletion by ids (unknown ids are
/// ignored) or by <c>max_timestamp_millis</c> (inclusive) with an optional <c>max_traces</c> (the oldest first).
/// Changes go to the catalog's overlay; reads through <see cref="TraceReader"/> apply them.
/// </summary>
public sealed partial class TraceMutations(SegmentCatalog catalog, TraceReader reader)
{
    public const int MaxTagKeyLength = 250;
    public const int MaxTagValueLength = 8000;
    public const int MaxTracesPerLink = 100;

    public void SetTag(string traceId, string key, string? value)
    {
        ValidateTagKey(key);
        RequireTrace(traceId);
        var text = value ?? "";
        catalog.Overlay.SetTag(traceId, key, text.Length > MaxTagValueLength ? text[..MaxTagValueLength] : text);
    }

    public void DeleteTag(string traceId, string key)
    {
        var trace = RequireTrace(traceId);
        if (!trace.Summary.Tags.ContainsKey(key))
        {
            throw new TraceStoreQueryException(QueryErrorCode.ResourceDoesNotExist, $"No trace tag with key '{key}' for trace with ID '{traceId}'");
        }

        catalog.Overlay.DeleteTag(traceId, key);
    }

    /// <summary>Deletes the listed traces of <paramref name="experimentId"/>; returns how many were deleted.</summary>
    public int DeleteTraces(string experimentId, IReadOnlyCollection<string> traceIds)
    {
        var existing = traceIds.Where(id => reader.Get(id) is { } trace && trace.Summary.ExperimentId == experimentId).ToList();
        return catalog.Overlay.DeleteTraces(experimentId, existing);
    }

    /// <summary>Deletes the traces of <paramref name="experimentId"/> whose request time is at or before
    /// <paramref name="maxTimestampMillis"/>, the oldest <paramref name="maxTraces"/> of them when given.</summary>
    public int DeleteTraces(string experimentId, long maxTimestampMillis, int? maxTraces)
    {
        if (maxTraces is <= 0)
        {
            throw new TraceStoreQueryException(QueryErrorCode.InvalidParameterValue, "`max_traces` must be a positive integer.");
        }

        using var lease = catalog.AcquireReadLease();
        var files = catalog.Candidates(experimentId: experimentId)
            .Select(s => DuckDbSql.Literal(Path.Combine(s.Folder, SegmentFormat.TracesFile)))
            .ToList();
        if (files.Count == 0)
        {
            return 0;
        }

        using var database = DuckDbDatabase.OpenInMemory(new DuckDbDatabaseOptions { Threads = 1 });
        using var connection = database.Connect();
        using var query = connection.Prepare(
            $"SELECT trace_id, arg_max(request_time_ms, seal_sequence) AS request_time_ms FROM read_parquet([{string.Join(", ", files)}]) " +
            $"WHERE experiment_id = $1 GROUP BY trace_id HAVING arg_max(request_time_ms, seal_sequence) <= $2 ORDER BY request_time_ms, trace_id");
        query.Bind(1, experimentId);
        query.Bind(2, maxTimestampMillis);
        using var result = query.Execute();
        var candidates = result.ReadAllRows().Select(r => (string)r[0]!).Where(id => !catalog.Overlay.IsDeleted(id));
        return catalog.Overlay.DeleteTraces(experimentId, maxTraces is { } limit ? [.. candidates.Take(limit)] : [.. candidates]);
    }

    /// <summary>MLflow's LinkTracesToRun: at most 100 trace ids per request, a run id required, every trace must
    /// exist; links that exist already are ignored.</summary>
    public void LinkToRun(string runId, IReadOnlyCollection<string> traceIds)
    {
        if (string.IsNullOrEmpty(runId))
        {
            throw new TraceStoreQueryException(QueryErrorCode.InvalidParameterValue, "Missing value for required parameter 'run_id'.");
        }

        if (traceIds.Count > MaxTracesPerLink)
        {
            throw new TraceStoreQueryException(QueryErrorCode.InvalidParameterValue, $"Cannot link more than {MaxTracesPerLink} traces to a run in a single request. Provided {traceIds.Count} traces.");
        }

        foreach (var traceId in traceIds)
        {
            RequireTrace(traceId);
        }

        catalog.Overlay.LinkToRun(runId, traceIds);
    }

    /// <summary>MLflow's tag key rules (mlflow/utils/validation.py): required, at most 250 characters, only
    /// alphanumerics, underscores, dashes, periods, spaces, colons and slashes, and not a path that normalises elsewhere.</summary>
    public static void ValidateTagKey(string? key)
    {
        if (string.IsNullOrEmpty(key))
        {
            throw new TraceStoreQueryException(QueryErrorCode.InvalidParameterValue, "Missing value for required parameter 'key'.");
        }

        if (key.Length > MaxTagKeyLength)
        {
            throw new TraceStoreQueryException(QueryErrorCode.InvalidParameterValue, $"'key' exceeds the maximum length of {MaxTagKeyLength} characters");
        }

        if (!TagKeyCharacters().IsMatch(key))
        {
            throw new TraceStoreQueryException(QueryErrorCode.InvalidParameterValue, $"Invalid value \"{key}\" for parameter 'key': names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/).");
        }

        if (key.StartsWith('/') || key.Split('/').Any(part => part is "." or ".."))
        {
            throw new TraceStoreQueryException(QueryErrorCode.InvalidParameterValue, $"Invalid value \"{key}\" for parameter 'key': names cannot be absolute paths or contain '.' or '..' path segments.");
        }
    }

    private StoredTrace RequireTrace(string traceId) =>
        reader.Get(traceId) ?? throw new TraceStoreQueryException(QueryErrorCode.ResourceDoesNotExist, $"Trace with ID '{traceId}' not found.");

    [GeneratedRegex(@"^[/\w.\- :]+$")]
    private static partial Regex TagKeyCharacters();
}
