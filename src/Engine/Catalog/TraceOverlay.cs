using TraceStore.DuckDb;

namespace TraceStore.Engine.Catalog;

/// <summary>One tag change: <see cref="Value"/> is null when the tag was deleted. <see cref="ChangeSequence"/> orders
/// changes (a later change has a higher number), across the overlay and the changes compaction folded into segments.</summary>
public sealed record TagChange(string TraceId, string Key, string? Value, bool Deleted, long ChangeSequence);

/// <summary>The tag changes compaction read for its input traces: every change numbered up to
/// <see cref="ChangeSequence"/> (later ones stay in the overlay).</summary>
public sealed record TagFoldSnapshot(long ChangeSequence, IReadOnlyList<TagChange> Changes);

/// <summary>What a merge folded: the changes numbered up to <see cref="ChangeSequence"/> of <see cref="TraceIds"/>
/// (the traces the merged segment holds), removed from the overlay in the merge's catalog transaction.</summary>
public sealed record OverlayFold(long ChangeSequence, IReadOnlyList<string> TraceIds);

/// <summary>
/// Mutable state beside the immutable segments, kept durably in the catalog database: tag changes made after a trace
/// was sealed (set or deleted, last change wins, each numbered from one sequence), deleted traces, and links from
/// traces to runs. Reads apply it on top of what the segments hold. Compaction folds tag changes into the segments it
/// writes and removes them here in the same transaction (<see cref="OverlayFold"/>); deleted traces are dropped from
/// the segments it writes, and their records purged once no segment holds them
/// (<see cref="SegmentCatalog.PurgeDeletedTraces"/>). Validation of MLflow's rules (tag keys, existence) is the
/// caller's: this class stores what it is told. Thread-safe through the catalog's lock.
/// </summary>
public sealed class TraceOverlay
{
    internal const string Schema = """
        CREATE SEQUENCE IF NOT EXISTS tag_change_seq START 1;
        CREATE TABLE IF NOT EXISTS tag_overlay (
            trace_id VARCHAR NOT NULL, key VARCHAR NOT NULL, value VARCHAR, deleted BOOLEAN NOT NULL, changed_unix_ms BIGINT NOT NULL,
            change_seq BIGINT, PRIMARY KEY (trace_id, key));
        CREATE TABLE IF NOT EXISTS deleted_traces (
            trace_id VARCHAR PRIMARY KEY, experiment_id VARCHAR NOT NULL, deleted_unix_ms BIGINT NOT NULL);
        CREATE TABLE IF NOT EXISTS trace_run_links (
            trace_id VARCHAR NOT NULL, run_id VARCHAR NOT NULL, created_unix_ms BIGINT NOT NULL, PRIMARY KEY (trace_id, run_id));
        """;

    private readonly object _gate;
    private readonly DuckDbConnection _connection;
    private readonly TimeProvider _time;

    internal TraceOverlay(object gate, DuckDbConnection connection, TimeProvider time)
    {
        _gate = gate;
        _connection = connection;
        _time = time;
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
        InsertNew("INSERT INTO deleted_traces SELECT unnest($1::VARCHAR[]), $2, $3 ON CONFLICT (trace_id) DO NOTHING", traceIds, experimentId);

    /// <summary>Links traces to a run (MLflow's entity associations of type trace → run); links that exist already are
    /// left as they are. Returns how many were new.</summary>
    public int LinkToRun(string runId, IEnumerable<string> traceIds) =>
        InsertNew("INSERT INTO trace_run_links SELECT unnest($1::VARCHAR[]), $2, $3 ON CONFLICT (trace_id, run_id) DO NOTHING", traceIds, runId);

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

    /// <summary>Every deleted trace id whose record is still kept.</summary>
    public IReadOnlyList<string> DeletedTraceIds()
    {
        lock (_gate)
        {
            using var result = _connection.Query("SELECT trace_id FROM deleted_traces ORDER BY trace_id");
            return [.. result.ReadAllRows().Select(r => (string)r[0]!)];
        }
    }

    /// <summary>The deleted traces of one experiment whose records are still kept.</summary>
    public IReadOnlyList<string> DeletedTraceIds(string experimentId)
    {
        lock (_gate)
        {
            using var query = _connection.Prepare("SELECT trace_id FROM deleted_traces WHERE experiment_id = $1 ORDER BY trace_id");
            query.Bind(1, experimentId);
            using var result = query.Execute();
            return [.. result.ReadAllRows().Select(r => (string)r[0]!)];
        }
    }

    /// <summary>The deleted traces among those the segments <paramref name="sealSequences"/> hold (compaction leaves
    /// them out of what it writes).</summary>
    public IReadOnlyList<string> DeletedTraceIdsIn(IReadOnlyList<long> sealSequences)
    {
        lock (_gate)
        {
            using var query = _connection.Prepare(
                "SELECT trace_id FROM deleted_traces WHERE trace_id IN (SELECT trace_id FROM trace_index WHERE list_contains($1, seal_sequence)) ORDER BY trace_id");
            query.BindList(1, DuckDbLogicalType.BigInt, sealSequences);
            using var result = query.Execute();
            return [.. result.ReadAllRows().Select(r => (string)r[0]!)];
        }
    }

    /// <summary>
    /// The tag changes of the traces the segments <paramref name="sealSequences"/> hold, as of now: the highest change
    /// number made so far, and every change of those traces up to it. A change made after this returns gets a higher
    /// number, so folding removes exactly what it read (<see cref="RemoveFolded"/>).
    /// </summary>
    public TagFoldSnapshot TagChangesToFold(IReadOnlyList<long> sealSequences)
    {
        lock (_gate)
        {
            using var max = _connection.Query("SELECT coalesce(max(change_seq), 0) FROM tag_overlay");
            var upTo = Convert.ToInt64(max.ReadAllRows()[0][0], System.Globalization.CultureInfo.InvariantCulture);
            using var query = _connection.Prepare(
                "SELECT trace_id, key, value, deleted, change_seq FROM tag_overlay WHERE change_seq <= $2 " +
                "AND trace_id IN (SELECT trace_id FROM trace_index WHERE list_contains($1, seal_sequence)) ORDER BY trace_id, key");
            query.BindList(1, DuckDbLogicalType.BigInt, sealSequences);
            query.Bind(2, upTo);
            using var result = query.Execute();
            return new TagFoldSnapshot(upTo, [.. result.ReadAllRows().Select(r => new TagChange((string)r[0]!, (string)r[1]!, (string?)r[2], (bool)r[3]!, (long)r[4]!))]);
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

    /// <summary>Removes the changes a merge folded into its segment (called in the merge's catalog transaction, under
    /// the catalog's lock): those of its traces numbered up to the fold's snapshot. A change made since has a higher
    /// number and stays.</summary>
    internal void RemoveFolded(OverlayFold fold)
    {
        using var delete = _connection.Prepare("DELETE FROM tag_overlay WHERE change_seq <= $1 AND trace_id IN (SELECT unnest($2::VARCHAR[]))");
        delete.Bind(1, fold.ChangeSequence);
        delete.BindList(2, DuckDbLogicalType.Varchar, fold.TraceIds);
        delete.ExecuteNonQuery();
    }

    /// <summary>Runs <paramref name="insert"/> (<c>$1</c>: the distinct trace ids as a list, <c>$2</c>:
    /// <paramref name="value"/>, <c>$3</c>: now) as one statement, so marking thousands of traces (retention) costs one
    /// execution; returns the rows that were new.</summary>
    private int InsertNew(string insert, IEnumerable<string> traceIds, string value)
    {
        var distinct = traceIds.Distinct(StringComparer.Ordinal).ToList();
        if (distinct.Count == 0)
        {
            return 0;
        }

        lock (_gate)
        {
            using var statement = _connection.Prepare(insert);
            statement.BindList(1, DuckDbLogicalType.Varchar, distinct);
            statement.Bind(2, value);
            statement.Bind(3, _time.GetUtcNow().ToUnixTimeMilliseconds());
            return (int)statement.ExecuteNonQuery();
        }
    }

    private void UpsertTag(string traceId, string key, string? value, bool deleted)
    {
        lock (_gate)
        {
            using var upsert = _connection.Prepare(
                "INSERT INTO tag_overlay (trace_id, key, value, deleted, changed_unix_ms, change_seq) VALUES ($1, $2, $3, $4, $5, nextval('tag_change_seq')) " +
                "ON CONFLICT (trace_id, key) DO UPDATE SET value = excluded.value, deleted = excluded.deleted, changed_unix_ms = excluded.changed_unix_ms, change_seq = excluded.change_seq");
            upsert.Bind(1, traceId);
            upsert.Bind(2, key);
            upsert.Bind(3, value);
            upsert.Bind(4, deleted);
            upsert.Bind(5, _time.GetUtcNow().ToUnixTimeMilliseconds());
            upsert.ExecuteNonQuery();
        }
    }
}
