using TraceStore.DuckDb;

namespace TraceStore.Engine.Catalog;

/// <summary>
/// Mutable state beside the immutable segments, kept durably in the catalog database: tag changes made after a trace
/// was sealed (set or deleted, last change wins), deleted traces, and links from traces to runs. Reads apply it on top of what the segments hold;
/// compaction folds it into new segments (later). Validation of MLflow's rules (tag keys, existence) is the caller's:
/// this class stores what it is told. Thread-safe through the catalog's lock.
/// </summary>
public sealed class TraceOverlay
{
    internal const string Schema = """
        CREATE TABLE IF NOT EXISTS tag_overlay (
            trace_id VARCHAR NOT NULL, key VARCHAR NOT NULL, value VARCHAR, deleted BOOLEAN NOT NULL, changed_unix_ms BIGINT NOT NULL,
            PRIMARY KEY (trace_id, key));
        CREATE TABLE IF NOT EXISTS deleted_traces (
            trace_id VARCHAR PRIMARY KEY, experiment_id VARCHAR NOT NULL, deleted_unix_ms BIGINT NOT NULL);
        CREATE TABLE IF NOT EXISTS trace_run_links (
            trace_id VARCHAR NOT NULL, run_id VARCHAR NOT NULL, created_unix_ms BIGINT NOT NULL, PRIMARY KEY (trace_id, run_id));
        """;

    private readonly object _gate;
    private readonly DuckDbConnection _connection;

    internal TraceOverlay(object gate, DuckDbConnection connection)
    {
        _gate = gate;
        _connection = connection;
    }

    /// <summary>Sets (or re-sets) a tag on a trace.</summary>
    public void SetTag(string traceId, string key, string value) => UpsertTag(traceId, key, value, deleted: false);

    /// <summary>Records that a tag is gone, whether it came from a segment or an earlier <see cref="SetTag"/>.</summary>
    public void DeleteTag(string traceId, string key) => UpsertTag(traceId, key, null, deleted: true);

    /// <summary>Tag changes of one trace: key → new value, or null where the tag was deleted.</summary>
    public IReadOnlyDictionary<string, string?> TagChanges(string traceId)
    {
        lock (_gate)
        {
            using var query = _connection.Prepare("SELECT key, value, deleted FROM tag_overlay WHERE trace_id = $1");
            query.Bind(1, traceId);
            using var result = query.Execute();
            return result.ReadAllRows().ToDictionary(r => (string)r[0]!, r => (bool)r[2]! ? null : (string?)r[1], StringComparer.Ordinal);
        }
    }

    /// <summary>Every tag change of every trace (trace id, key, new value or null where deleted): what a query session
    /// copies next to the segments it reads, ordered by trace id and key.</summary>
    public IReadOnlyList<(string TraceId, string Key, string? Value)> AllTagChanges()
    {
        lock (_gate)
        {
            using var result = _connection.Query("SELECT trace_id, key, value, deleted FROM tag_overlay ORDER BY trace_id, key");
            return [.. result.ReadAllRows().Select(r => ((string)r[0]!, (string)r[1]!, (bool)r[3]! ? null : (string?)r[2]))];
        }
    }

    /// <summary>Marks traces deleted; returns how many were not deleted before.</summary>
    public int DeleteTraces(string experimentId, IEnumerable<string> traceIds) =>
        InsertNew("INSERT INTO deleted_traces VALUES ($1, $2, $3) ON CONFLICT (trace_id) DO NOTHING", traceIds, experimentId);

    /// <summary>Links traces to a run (MLflow's entity associations of type trace → run); links that exist already are
    /// left as they are. Returns how many were new.</summary>
    public int LinkToRun(string runId, IEnumerable<string> traceIds) =>
        InsertNew("INSERT INTO trace_run_links VALUES ($1, $2, $3) ON CONFLICT (trace_id, run_id) DO NOTHING", traceIds, runId);

    /// <summary>The runs a trace is linked to, in the order the links were made.</summary>
    public IReadOnlyList<string> RunsOf(string traceId)
    {
        lock (_gate)
        {
            using var query = _connection.Prepare("SELECT run_id FROM trace_run_links WHERE trace_id = $1 ORDER BY created_unix_ms, run_id");
            query.Bind(1, traceId);
            using var result = query.Execute();
            return [.. result.ReadAllRows().Select(r => (string)r[0]!)];
        }
    }

    /// <summary>Every deleted trace id (compaction leaves them out of merged segments).</summary>
    public IReadOnlyList<string> DeletedTraceIds()
    {
        lock (_gate)
        {
            using var result = _connection.Query("SELECT trace_id FROM deleted_traces ORDER BY trace_id");
            return [.. result.ReadAllRows().Select(r => (string)r[0]!)];
        }
    }

    public bool IsDeleted(string traceId)
    {
        lock (_gate)
        {
            using var query = _connection.Prepare("SELECT count(*) FROM deleted_traces WHERE trace_id = $1");
            query.Bind(1, traceId);
            using var result = query.Execute();
            return Convert.ToInt64(result.ReadAllRows()[0][0], System.Globalization.CultureInfo.InvariantCulture) > 0;
        }
    }

    /// <summary>Runs <paramref name="insert"/> (trace id, <paramref name="value"/>, now) for each distinct trace id in
    /// one transaction; returns the rows that were new.</summary>
    private int InsertNew(string insert, IEnumerable<string> traceIds, string value)
    {
        lock (_gate)
        {
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            var inserted = 0;
            _connection.Execute("BEGIN TRANSACTION");
            try
            {
                using var statement = _connection.Prepare(insert);
                foreach (var traceId in traceIds.Distinct(StringComparer.Ordinal))
                {
                    statement.ClearBindings();
                    statement.Bind(1, traceId);
                    statement.Bind(2, value);
                    statement.Bind(3, now);
                    inserted += (int)statement.ExecuteNonQuery();
                }

                _connection.Execute("COMMIT");
            }
            catch
            {
                _connection.Execute("ROLLBACK");
                throw;
            }

            return inserted;
        }
    }

    private void UpsertTag(string traceId, string key, string? value, bool deleted)
    {
        lock (_gate)
        {
            using var upsert = _connection.Prepare(
                "INSERT INTO tag_overlay VALUES ($1, $2, $3, $4, $5) ON CONFLICT (trace_id, key) DO UPDATE SET value = excluded.value, deleted = excluded.deleted, changed_unix_ms = excluded.changed_unix_ms");
            upsert.Bind(1, traceId);
            upsert.Bind(2, key);
            upsert.Bind(3, value);
            upsert.Bind(4, deleted);
            upsert.Bind(5, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            upsert.ExecuteNonQuery();
        }
    }
}
