using TraceStore.DuckDb;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Hot;
using TraceStore.Engine.Segments;

namespace TraceStore.Query.Sql;

/// <summary>
/// A DuckDB session in which one SQL query sees sealed and unsealed traces alike (docs/reads.md, "SQL over hot and
/// sealed data"). <see cref="Refresh"/> takes a snapshot: the hot index into tables <c>hot_traces</c>,
/// <c>hot_spans</c>, <c>hot_payloads</c>, <c>hot_attrs</c> (the segment files' columns), then the catalog's
/// candidate segments and its overlay (tables <c>tag_changes</c>, <c>deleted_traces</c>), in that order (a trace
/// moving from hot to sealed meanwhile is in at least one). Views over them:
/// <list type="bullet">
/// <item><c>traces</c>: one row per trace, the latest summary (the hot one when there is one: it covers the sealed
/// parts too; else the highest seal sequence), deleted traces left out, tags with the overlay's changes applied.</item>
/// <item><c>spans</c>, <c>payloads</c>, <c>attrs</c> (as key, value, trace_id, span_id): every stored row of the segments and the hot tables, deleted
/// traces left out. A span stored in several places (sealed in parts, retried, caught between pending and
/// committed) has a row per place: dedupe by (trace_id, span_id) where counts matter.</item>
/// </list>
/// The views union by column name: a column only one side has (e.g. <c>hot_payloads.start_time_ns</c>, or a column
/// of a newer segment format) is NULL on the other. The query layer runs its SQL over the views with values as
/// parameters. Not thread-safe: one session per thread; the snapshot is as of the last <see cref="Refresh"/>.
/// </summary>
public sealed class TraceQuerySession : IDisposable
{
    private static readonly string[] Views = [.. HotTables.Names];

    private readonly SegmentCatalog _catalog;
    private readonly HotIndex? _hot;
    private readonly DuckDbDatabase _database;
    private readonly DuckDbConnection _connection;
    private readonly HotTables _hotTables;

    /// <param name="hot">The store's unsealed traces; null: sealed segments only (the hot tables stay empty).</param>
    public TraceQuerySession(SegmentCatalog catalog, HotIndex? hot = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        _catalog = catalog;
        _hot = hot;
        _database = DuckDbDatabase.OpenInMemory(new DuckDbDatabaseOptions { Threads = 1 });
        _connection = _database.Connect();

        // Committed segment files never change: their Parquet footers are cached across this session's queries.
        _connection.Execute("SET parquet_metadata_cache = true");
        _hotTables = new HotTables(_connection);
    }

    /// <summary>A session over every trace of <paramref name="store"/>, sealed or not; call <see cref="Refresh"/> before
    /// querying.</summary>
    public static TraceQuerySession Open(Engine.TraceStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        return new TraceQuerySession(store.Catalog, store.Hot);
    }

    /// <summary>The committed segments the views read, as of the last <see cref="Refresh"/>.</summary>
    public IReadOnlyList<SegmentInfo> Segments { get; private set; } = [];

    /// <summary>What the last <see cref="Refresh"/> put in the hot tables.</summary>
    public HotTablesWritten Hot { get; private set; }

    /// <summary>The session's connection, for the query layer's prepared statements over the views.</summary>
    internal DuckDbConnection Connection => _connection;

    /// <summary>
    /// Takes a new snapshot for traces of <paramref name="experimentId"/> (all when null): hot tables first, then the
    /// catalog's candidate segments for that experiment, then the overlay; then (re)creates the views. The experiment
    /// prunes what is read (hot traces of other experiments, segments without the experiment), but a segment holding
    /// it may hold other experiments too: queries still filter on <c>experiment_id</c> (the experiment id is a user
    /// value, so it travels as a query parameter, never in the views' text).
    /// </summary>
    public void Refresh(string? experimentId = null)
    {
        _connection.Execute(string.Concat(Views.Select(v => $"DROP VIEW IF EXISTS {v};")));
        Hot = _hot is null
            ? _hotTables.CreateEmpty()
            : _hotTables.Materialize(_hot, experimentId is null ? null : key => key.ExperimentId == experimentId);

        Segments = _catalog.Candidates(experimentId);
        CopyOverlay();
        foreach (var view in Views)
        {
            _connection.Execute(view switch
            {
                "traces" => TracesView(),
                "attrs" => RowsView(view, AttrsUnion()),
                _ => RowsView(view, Union(view)),
            });
        }
    }

    /// <summary>Runs <paramref name="sql"/> over the snapshot with <paramref name="parameters"/> bound to $1, $2, ...
    /// and returns every row as CLR values. For small results (tests, tools); the query layer streams.</summary>
    public List<object?[]> Query(string sql, params object?[] parameters)
    {
        using var result = _connection.Query(sql, parameters);
        return result.ReadAllRows();
    }

    public void Dispose()
    {
        _connection.Dispose();
        _database.Dispose();
    }

    private void CopyOverlay()
    {
        _connection.Execute(
            "CREATE OR REPLACE TABLE deleted_traces (trace_id VARCHAR NOT NULL);" +
            "CREATE OR REPLACE TABLE tag_changes (trace_id VARCHAR NOT NULL, key VARCHAR NOT NULL, value VARCHAR, deleted BOOLEAN NOT NULL);");
        using (var deleted = _connection.CreateChunkAppender("deleted_traces"))
        {
            foreach (var traceId in _catalog.Overlay.DeletedTraceIds())
            {
                var row = deleted.AddRow();
                deleted.Column(0).SetString(row, traceId);
            }

            deleted.Close();
        }

        using var changes = _connection.CreateChunkAppender("tag_changes");
        foreach (var (traceId, key, value) in _catalog.Overlay.AllTagChanges())
        {
            var row = changes.AddRow();
            changes.Column(0).SetString(row, traceId);
            changes.Column(1).SetString(row, key);
            if (value is null)
            {
                changes.Column(2).SetNull(row);
            }
            else
            {
                changes.Column(2).SetString(row, value);
            }

            changes.Column(3).SetBoolean(row, value is null);
        }

        changes.Close();
    }

    /// <summary>The segments' file of <paramref name="view"/> and the hot table, by column name.</summary>
    private string Union(string view) =>
        Segments.Count == 0
            ? $"SELECT * FROM {HotTables.Prefix}{view}"
            : $"SELECT * FROM {SealedTraceQueries.Files(Segments, view + ".parquet")} UNION ALL BY NAME SELECT * FROM {HotTables.Prefix}{view}";

    /// <summary>
    /// Attributes as (key, value, trace_id, span_id) from every segment and the hot table. Segments of format 2 name the
    /// span by its row in the same segment's spans file (<c>span_row</c>), resolved here by a join on the folder and
    /// DuckDB's <c>file_row_number</c>; format 1 stored the ids.
    /// </summary>
    private string AttrsUnion()
    {
        var parts = new List<string>();
        var current = Segments.Where(s => s.FormatVersion >= 2).ToList();
        var first = Segments.Where(s => s.FormatVersion < 2).ToList();
        if (current.Count > 0)
        {
            string Files(string file) => "[" + string.Join(", ", current.Select(s => DuckDbSql.Literal(Path.Combine(s.Folder, file)))) + "]";
            parts.Add(
                $"SELECT a.key, a.value, s.trace_id, s.span_id FROM read_parquet({Files(SegmentFormat.AttrsFile)}, filename = true) a " +
                $"JOIN read_parquet({Files(SegmentFormat.SpansFile)}, filename = true, file_row_number = true) s " +
                "ON parse_dirpath(s.filename) = parse_dirpath(a.filename) AND s.file_row_number = a.span_row");
        }

        if (first.Count > 0)
        {
            parts.Add($"SELECT key, value, trace_id, span_id FROM {SealedTraceQueries.Files(first, SegmentFormat.AttrsFile)}");
        }

        parts.Add($"SELECT key, value, trace_id, span_id FROM {HotTables.Prefix}attrs");
        return string.Join(" UNION ALL ", parts);
    }

    private static string RowsView(string view, string union) =>
        $"CREATE VIEW {view} AS SELECT * FROM ({union}) r WHERE NOT EXISTS (SELECT 1 FROM deleted_traces d WHERE d.trace_id = r.trace_id)";

    private string TracesView() =>
        "CREATE VIEW traces AS " +
        $"WITH latest AS (SELECT * FROM ({Union("traces")}) QUALIFY row_number() OVER (PARTITION BY trace_id ORDER BY seal_sequence DESC) = 1), " +
        "changes AS (SELECT trace_id, list(key) AS changed_keys, list({'key': key, 'value': value}) FILTER (WHERE NOT deleted) AS set_tags FROM tag_changes GROUP BY trace_id) " +
        "SELECT latest.* REPLACE (map_from_entries(list_concat(" +
        "list_filter(map_entries(latest.tags), e -> NOT list_contains(coalesce(changes.changed_keys, []::VARCHAR[]), e.key)), " +
        "coalesce(changes.set_tags, []::STRUCT(key VARCHAR, value VARCHAR)[]))) AS tags) " +
        "FROM latest LEFT JOIN changes ON changes.trace_id = latest.trace_id " +
        "WHERE NOT EXISTS (SELECT 1 FROM deleted_traces d WHERE d.trace_id = latest.trace_id)";
}
