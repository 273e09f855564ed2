using TraceStore.DuckDb;
using TraceStore.Engine.Segments;

namespace TraceStore.Engine.Catalog;

/// <summary>
/// The durable list of committed segments with their zone maps (experiments, trace-id range, start-time range,
/// counts, bytes, format version), kept in a DuckDB database file (<c>DIR/catalog.duckdb</c>): a commit is one DuckDB
/// transaction, durable when it returns. A segment folder exists before its row does; a folder without a row is an
/// unfinished seal whose traces are still in the WAL, and <see cref="RemoveUncommitted"/> deletes it at open.
/// Readers ask <see cref="Candidates"/> which segments can hold what they look for, before DuckDB opens any file.
/// Thread-safe (one lock; catalog calls are rare next to the data they describe).
/// </summary>
public sealed class SegmentCatalog : IDisposable
{
    public const int FormatVersion = 1;
    public const string FileName = "catalog.duckdb";

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS catalog_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
        CREATE TABLE IF NOT EXISTS segments (
            seal_sequence BIGINT PRIMARY KEY, folder VARCHAR NOT NULL, format_version INTEGER NOT NULL,
            experiments VARCHAR[] NOT NULL, traces BIGINT NOT NULL, spans BIGINT NOT NULL,
            min_trace_id VARCHAR NOT NULL, max_trace_id VARCHAR NOT NULL, min_start_ns BIGINT NOT NULL, max_start_ns BIGINT NOT NULL,
            bytes BIGINT NOT NULL, committed_unix_ms BIGINT NOT NULL);
        CREATE TABLE IF NOT EXISTS trace_index (trace_id VARCHAR NOT NULL, seal_sequence BIGINT NOT NULL, PRIMARY KEY (trace_id, seal_sequence));
        """;

    private const string Columns = "seal_sequence, folder, format_version, experiments, traces, spans, min_trace_id, max_trace_id, min_start_ns, max_start_ns, bytes";

    private readonly object _gate = new();
    private readonly string _segmentsFolder;
    private readonly DuckDbDatabase _database;
    private readonly DuckDbConnection _connection;

    private SegmentCatalog(string segmentsFolder, DuckDbDatabase database, DuckDbConnection connection)
    {
        _segmentsFolder = segmentsFolder;
        _database = database;
        _connection = connection;
        Overlay = new TraceOverlay(_gate, connection);
        Assessments = new AssessmentTable(_gate, connection);
    }

    /// <summary>Assessments of traces, stored in the same database.</summary>
    public AssessmentTable Assessments { get; }

    /// <summary>Tag changes and deletions made after sealing, stored in the same database.</summary>
    public TraceOverlay Overlay { get; }

    /// <summary>Opens (or creates) the catalog of the store in <paramref name="dataDirectory"/>; its segments live in
    /// <c>DIR/segments</c>.</summary>
    public static SegmentCatalog Open(string dataDirectory)
    {
        var database = DuckDbDatabase.Open(Path.Combine(dataDirectory, FileName), new DuckDbDatabaseOptions { Threads = 1 });
        try
        {
            var connection = database.Connect();
            connection.Execute(Schema);
            connection.Execute(TraceOverlay.Schema);
            connection.Execute(AssessmentTable.Schema);
            CheckVersion(connection);
            return new SegmentCatalog(Path.Combine(dataDirectory, "segments"), database, connection);
        }
        catch
        {
            database.Dispose();
            throw;
        }
    }

    public string SegmentsFolder => _segmentsFolder;

    /// <summary>Records a written segment and its trace index in one transaction (a crash or a failure between the two
    /// inserts leaves neither: the folder then has no row and is removed at open). After this returns the segment is
    /// part of the store, and the WAL records its traces came from may be checkpointed.</summary>
    public void Commit(SegmentInfo segment)
    {
        lock (_gate)
        {
            _connection.Execute("BEGIN TRANSACTION");
            try
            {
                Insert(segment);
                _connection.Execute("COMMIT");
            }
            catch
            {
                _connection.Execute("ROLLBACK");
                throw;
            }
        }
    }

    private void Insert(SegmentInfo segment)
    {
        using var insert = _connection.Prepare($"INSERT INTO segments ({Columns}, committed_unix_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)");
        insert.Bind(1, segment.SealSequence);
        insert.Bind(2, Path.GetFileName(segment.Folder));
        insert.Bind(3, segment.FormatVersion);
        insert.BindList(4, DuckDbLogicalType.Varchar, segment.Experiments);
        insert.Bind(5, segment.Traces);
        insert.Bind(6, segment.Spans);
        insert.Bind(7, segment.MinTraceId);
        insert.Bind(8, segment.MaxTraceId);
        insert.Bind(9, segment.MinStartTimeNs);
        insert.Bind(10, segment.MaxStartTimeNs);
        insert.Bind(11, segment.Bytes);
        insert.Bind(12, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        insert.ExecuteNonQuery();
        if (segment.TraceIds is { Count: > 0 } ids)
        {
            using var index = _connection.Prepare("INSERT INTO trace_index SELECT DISTINCT unnest($1::VARCHAR[]), $2");
            index.BindList(1, DuckDbLogicalType.Varchar, ids);
            index.Bind(2, segment.SealSequence);
            index.ExecuteNonQuery();
        }
    }

    /// <summary>Replaces <paramref name="inputs"/> by <paramref name="merged"/> (or by nothing) in one transaction:
    /// readers see either the inputs or the merged segment, never both or neither.</summary>
    public void ReplaceSegments(IReadOnlyList<SegmentInfo> inputs, SegmentInfo? merged)
    {
        lock (_gate)
        {
            _connection.Execute("BEGIN TRANSACTION");
            try
            {
                foreach (var table in new[] { "segments", "trace_index" })
                {
                    using var delete = _connection.Prepare($"DELETE FROM {table} WHERE list_contains($1, seal_sequence)");
                    delete.BindList(1, DuckDbLogicalType.BigInt, inputs.Select(s => s.SealSequence).ToList());
                    delete.ExecuteNonQuery();
                }

                if (merged is not null)
                {
                    Insert(merged);
                }

                _connection.Execute("COMMIT");
            }
            catch
            {
                _connection.Execute("ROLLBACK");
                throw;
            }
        }
    }

    /// <summary>
    /// The lowest WAL sequence whose spans are not all in committed segments, as of the last checkpoint: replay at
    /// open starts there (records below it are verified but not assembled again). 0 when never set.
    /// </summary>
    public long WalNeededFrom()
    {
        lock (_gate)
        {
            using var result = _connection.Query("SELECT value FROM catalog_meta WHERE key = 'wal_needed_from'");
            var rows = result.ReadAllRows();
            return rows.Count == 0 ? 0 : long.Parse((string)rows[0][0]!, System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    /// <summary>Records the WAL position replay may start from (only ever moves forward).</summary>
    public void SetWalNeededFrom(long sequence)
    {
        lock (_gate)
        {
            using var upsert = _connection.Prepare(
                "INSERT INTO catalog_meta VALUES ('wal_needed_from', $1) ON CONFLICT (key) DO UPDATE SET value = CAST(greatest(CAST(value AS BIGINT), CAST(excluded.value AS BIGINT)) AS VARCHAR)");
            upsert.Bind(1, sequence.ToString(System.Globalization.CultureInfo.InvariantCulture));
            upsert.ExecuteNonQuery();
        }
    }

    /// <summary>The next seal sequence to use: one past the highest committed.</summary>
    public long NextSealSequence()
    {
        lock (_gate)
        {
            using var result = _connection.Query("SELECT coalesce(max(seal_sequence), 0) + 1 FROM segments");
            return Convert.ToInt64(result.ReadAllRows()[0][0], System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    public IReadOnlyList<SegmentInfo> Segments() => Select("TRUE");

    /// <summary>
    /// Committed segments that may hold traces of <paramref name="experimentId"/> (any when null) with
    /// <paramref name="traceId"/> (<c>tr-…</c>; any when null) and spans starting in [<paramref name="fromNs"/>,
    /// <paramref name="toNs"/>]: everything else is pruned by the zone maps. Values travel as parameters.
    /// </summary>
    public IReadOnlyList<SegmentInfo> Candidates(string? experimentId = null, string? traceId = null, long fromNs = long.MinValue, long toNs = long.MaxValue) =>
        Select("($1::VARCHAR IS NULL OR list_contains(experiments, $1)) AND ($2::VARCHAR IS NULL OR $2 BETWEEN min_trace_id AND max_trace_id) AND max_start_ns >= $3 AND min_start_ns <= $4", experimentId, traceId, fromNs, toNs);

    /// <summary>The committed segments that hold a part of trace <paramref name="traceId"/>, by the trace index: exact,
    /// where the zone maps of random ids would name nearly every segment.</summary>
    public IReadOnlyList<SegmentInfo> SegmentsHolding(string traceId) =>
        Select("seal_sequence IN (SELECT seal_sequence FROM trace_index WHERE trace_id = $1)", traceId);

    /// <summary>For each of <paramref name="traceIds"/> that is in a committed segment, the seal sequences of the
    /// segments that hold it (one query for the whole batch).</summary>
    public IReadOnlyDictionary<string, List<long>> SealedParts(IReadOnlyList<string> traceIds)
    {
        lock (_gate)
        {
            using var query = _connection.Prepare("SELECT trace_id, seal_sequence FROM trace_index WHERE trace_id IN (SELECT unnest($1::VARCHAR[])) ORDER BY seal_sequence");
            query.BindList(1, DuckDbLogicalType.Varchar, traceIds);
            using var result = query.Execute();
            var parts = new Dictionary<string, List<long>>(StringComparer.Ordinal);
            foreach (var row in result.ReadAllRows())
            {
                var id = (string)row[0]!;
                (parts.TryGetValue(id, out var list) ? list : parts[id] = []).Add((long)row[1]!);
            }

            return parts;
        }
    }

    /// <summary>Deletes segment folders that have no catalog row (a crash between writing and committing) and
    /// <c>.tmp</c> folders; returns their names.</summary>
    public IReadOnlyList<string> RemoveUncommitted()
    {
        if (!Directory.Exists(_segmentsFolder))
        {
            return [];
        }

        var committed = Segments().Select(s => Path.GetFileName(s.Folder)).ToHashSet(StringComparer.Ordinal);
        var removed = new List<string>(SegmentWriter.RemoveUnfinished(_segmentsFolder).Select(Path.GetFileName).Select(n => n!));
        foreach (var folder in Directory.GetDirectories(_segmentsFolder, "seg-*"))
        {
            var name = Path.GetFileName(folder);
            if (SegmentFormat.TryParseFolderName(name, out _) && !committed.Contains(name))
            {
                Directory.Delete(folder, recursive: true);
                removed.Add(name);
            }
        }

        return removed;
    }

    public void Dispose()
    {
        _connection.Dispose();
        _database.Dispose();
    }

    private List<SegmentInfo> Select(string where, params object?[] parameters)
    {
        lock (_gate)
        {
            using var query = _connection.Prepare($"SELECT {Columns} FROM segments WHERE {where} ORDER BY seal_sequence");
            for (var i = 0; i < parameters.Length; i++)
            {
                query.Bind(i + 1, parameters[i]);
            }

            using var result = query.Execute();
            return [.. result.ReadAllRows().Select(row => new SegmentInfo(
                (long)row[0]!,
                Path.Combine(_segmentsFolder, (string)row[1]!),
                (int)row[2]!,
                ((IEnumerable<object?>)row[3]!).Select(e => (string)e!).ToList(),
                (long)row[4]!,
                (long)row[5]!,
                (string)row[6]!,
                (string)row[7]!,
                (long)row[8]!,
                (long)row[9]!,
                (long)row[10]!))];
        }
    }

    private static void CheckVersion(DuckDbConnection connection)
    {
        using var read = connection.Query("SELECT value FROM catalog_meta WHERE key = 'format_version'");
        var rows = read.ReadAllRows();
        if (rows.Count == 0)
        {
            using var insert = connection.Prepare("INSERT INTO catalog_meta VALUES ('format_version', $1)");
            insert.Bind(1, FormatVersion.ToString(System.Globalization.CultureInfo.InvariantCulture));
            insert.ExecuteNonQuery();
            return;
        }

        var version = int.Parse((string)rows[0][0]!, System.Globalization.CultureInfo.InvariantCulture);
        if (version > FormatVersion)
        {
            throw new InvalidDataException($"The catalog was written in format version {version}; this build reads version {FormatVersion} and older. Use a newer TraceStore.");
        }
    }
}
