using TraceStore.DuckDb;
using TraceStore.Engine.Segments;

namespace TraceStore.Engine.Catalog;

/// <summary>
/// The durable list of committed segments with their zone maps (experiments, trace-id range, start-time range,
/// counts, bytes, format version), kept in a DuckDB database file (<c>DIR/catalog.duckdb</c>): a commit is one DuckDB
/// transaction, durable when it returns. A segment folder exists before its row does; a folder without a row is an
/// unfinished seal whose traces are still in the WAL, and <see cref="RemoveUncommitted"/> deletes it at open.
/// Readers ask <see cref="Candidates"/> which segments can hold what they look for, before DuckDB opens any file.
/// <para>Thread-safe (one lock; catalog calls are rare and short next to the data they describe). The sealer commits
/// and the compactor replaces segments concurrently: seal sequences are handed out here so they never collide, and a
/// folder replaced by compaction is deleted only once no reader that could have seen it holds a
/// <see cref="CatalogReadLease"/> (its name is kept in <c>retired_segments</c> until then, so a crash still removes it
/// at the next open).</para>
/// </summary>
public sealed class SegmentCatalog : IDisposable
{
    public const int FormatVersion = CatalogSchema.FormatVersion;
    public const string FileName = "catalog.duckdb";

    /// <summary>Tables with a row per segment (or per segment and trace), emptied of a segment when it is replaced.</summary>
    private static readonly string[] PerSegmentTables = ["segments", "trace_index"];

    /// <summary>Tables keyed by trace id that a purged deletion takes its trace out of (the deletion record last).</summary>
    private static readonly string[] PerTraceTables = ["tag_overlay", "trace_run_links", "assessments", "deleted_traces"];

    private const string Columns = "seal_sequence, folder, format_version, experiments, traces, spans, min_trace_id, max_trace_id, min_start_ns, max_start_ns, bytes";

    private readonly object _gate = new();
    private readonly string _segmentsFolder;
    private readonly DuckDbDatabase _database;
    private readonly DuckDbConnection _connection;
    private readonly TimeProvider _time;
    private readonly ReadLeases _leases = new();

    /// <summary>Folders replaced by compaction and not deleted yet, with the replacement version that retired them.</summary>
    private readonly List<(string Folder, long Version)> _retired = [];

    private long _nextSequence;
    private long _sealerSequence;

    private SegmentCatalog(string segmentsFolder, DuckDbDatabase database, DuckDbConnection connection, TimeProvider time)
    {
        _segmentsFolder = segmentsFolder;
        _database = database;
        _connection = connection;
        _time = time;
        Overlay = new TraceOverlay(_gate, connection, time);
        Assessments = new AssessmentTable(_gate, connection);
        using var result = connection.Query("SELECT coalesce(max(seal_sequence), 0) + 1 FROM segments");
        _nextSequence = Convert.ToInt64(result.ReadAllRows()[0][0], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Assessments of traces, stored in the same database.</summary>
    public AssessmentTable Assessments { get; }

    /// <summary>Tag changes and deletions made after sealing, stored in the same database.</summary>
    public TraceOverlay Overlay { get; }

    /// <summary>Opens (or creates, or migrates: <see cref="CatalogSchema"/>) the catalog of the store in
    /// <paramref name="dataDirectory"/>; its segments live in <c>DIR/segments</c>. <paramref name="time"/> stamps
    /// changes and deletions (default: the system clock).</summary>
    public static SegmentCatalog Open(string dataDirectory, TimeProvider? time = null)
    {
        var database = DuckDbDatabase.Open(Path.Combine(dataDirectory, FileName), new DuckDbDatabaseOptions { Threads = 1 });
        try
        {
            var connection = database.Connect();
            CatalogSchema.Apply(connection);
            return new SegmentCatalog(Path.Combine(dataDirectory, "segments"), database, connection, time ?? TimeProvider.System);
        }
        catch
        {
            database.Dispose();
            throw;
        }
    }

    public string SegmentsFolder => _segmentsFolder;

    /// <summary>Records a written segment (its row and its trace index, in one transaction). After this returns the
    /// segment is part of the store, and the WAL records its traces came from may be checkpointed.</summary>
    public void Commit(SegmentInfo segment)
    {
        lock (_gate)
        {
            InTransaction(() => Insert(segment));
            _nextSequence = Math.Max(_nextSequence, segment.SealSequence + 1);
            if (segment.SealSequence == _sealerSequence)
            {
                _sealerSequence = 0;
            }
        }
    }

    /// <summary>
    /// Takes a lease for reading segment files: hold it from the first catalog question (which segments?) until the last
    /// file is read. Folders replaced meanwhile stay on disk until it is released.
    /// </summary>
    public CatalogReadLease AcquireReadLease() => _leases.Acquire();

    /// <summary>
    /// Replaces <paramref name="inputs"/> by <paramref name="merged"/> (or by nothing) in one transaction: readers see
    /// either the inputs or the merged segment, never both or neither. In the same transaction the folded tag changes
    /// (<paramref name="fold"/>) leave the overlay, so a read never applies a change twice nor misses it, and the
    /// input folders are recorded as retired; they are deleted by <see cref="DeleteRetiredFolders"/> once no reader
    /// can still be using them (or at the next open). Throws <see cref="InvalidOperationException"/>, changing
    /// nothing, when an input is no longer committed.
    /// </summary>
    public void ReplaceSegments(IReadOnlyList<SegmentInfo> inputs, SegmentInfo? merged, OverlayFold? fold = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputs.Count, 1, nameof(inputs));
        var sequences = inputs.Select(s => s.SealSequence).ToList();
        lock (_gate)
        {
            InTransaction(() =>
            {
                using (var count = _connection.Prepare("SELECT count(*) FROM segments WHERE list_contains($1, seal_sequence)"))
                {
                    count.BindList(1, DuckDbLogicalType.BigInt, sequences);
                    using var result = count.Execute();
                    if (Convert.ToInt64(result.ReadAllRows()[0][0], System.Globalization.CultureInfo.InvariantCulture) != sequences.Count)
                    {
                        throw new InvalidOperationException($"Segments {string.Join(", ", sequences)} are not all committed any more; nothing was replaced.");
                    }
                }

                foreach (var table in PerSegmentTables)
                {
                    using var delete = _connection.Prepare($"DELETE FROM {table} WHERE list_contains($1, seal_sequence)");
                    delete.BindList(1, DuckDbLogicalType.BigInt, sequences);
                    delete.ExecuteNonQuery();
                }

                if (merged is not null)
                {
                    Insert(merged);
                }

                if (fold is { TraceIds.Count: > 0 })
                {
                    Overlay.RemoveFolded(fold);
                }

                using var retire = _connection.Prepare("INSERT OR REPLACE INTO retired_segments SELECT unnest($1::VARCHAR[]), unnest($2::BIGINT[]), $3");
                retire.BindList(1, DuckDbLogicalType.Varchar, inputs.Select(s => Path.GetFileName(s.Folder)).ToList());
                retire.BindList(2, DuckDbLogicalType.BigInt, sequences);
                retire.Bind(3, _time.GetUtcNow().ToUnixTimeMilliseconds());
                retire.ExecuteNonQuery();
            });

            if (merged is not null)
            {
                _nextSequence = Math.Max(_nextSequence, merged.SealSequence + 1);
            }

            var version = _leases.Advance();
            _retired.AddRange(inputs.Select(s => (s.Folder, version)));
        }
    }

    /// <summary>
    /// Deletes the retired folders no reader can still be using (every lease is younger than their replacement) and
    /// forgets them. Returns the names deleted; folders still protected stay for a later call.
    /// </summary>
    public IReadOnlyList<string> DeleteRetiredFolders()
    {
        List<(string Folder, long Version)> due;
        lock (_gate)
        {
            var oldest = _leases.Oldest;
            due = [.. _retired.Where(r => r.Version <= oldest)];
            if (due.Count == 0)
            {
                return [];
            }

            _retired.RemoveAll(r => r.Version <= oldest);
        }

        // Deleted outside the lock (file-system work); only this method removes retired folders once they are listed.
        // A folder that cannot be deleted now goes back on the list for the next call (and is removed at open anyway).
        var names = new List<string>(due.Count);
        List<(string Folder, long Version)>? failed = null;
        foreach (var entry in due)
        {
            try
            {
                if (Directory.Exists(entry.Folder))
                {
                    Directory.Delete(entry.Folder, recursive: true);
                }

                names.Add(Path.GetFileName(entry.Folder));
            }
            catch (IOException)
            {
                (failed ??= []).Add(entry);
            }
        }

        lock (_gate)
        {
            if (failed is not null)
            {
                _retired.AddRange(failed);
            }

            if (names.Count == 0)
            {
                return names;
            }

            using var forget = _connection.Prepare("DELETE FROM retired_segments WHERE list_contains($1, folder)");
            forget.BindList(1, DuckDbLogicalType.Varchar, names);
            forget.ExecuteNonQuery();
        }

        return names;
    }

    /// <summary>Retired folders still waiting for readers to finish.</summary>
    public int RetiredFoldersPending
    {
        get
        {
            lock (_gate)
            {
                return _retired.Count;
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

    /// <summary>
    /// The seal sequence of the sealer's next segment: one past every sequence committed or handed out, or, when the
    /// sequence this returned last has not been committed since (its write failed), that same one again, so the retry
    /// reuses its folder name and replaces what the failed write left. For the sealer only (one writer);
    /// other writers take theirs from <see cref="AllocateSealSequence"/>.
    /// </summary>
    public long NextSealSequence()
    {
        lock (_gate)
        {
            if (_sealerSequence == 0)
            {
                _sealerSequence = _nextSequence++;
            }

            return _sealerSequence;
        }
    }

    /// <summary>A seal sequence no one else has or will be handed (compaction's merged segments).</summary>
    public long AllocateSealSequence()
    {
        lock (_gate)
        {
            return _nextSequence++;
        }
    }

    public IReadOnlyList<SegmentInfo> Segments() => Select("TRUE");

    /// <summary>Experiments with traces in committed segments, in ordinal order.</summary>
    public IReadOnlyList<string> Experiments()
    {
        lock (_gate)
        {
            using var result = _connection.Query("SELECT DISTINCT unnest(experiments) AS e FROM segments ORDER BY e");
            return [.. result.ReadAllRows().Select(r => (string)r[0]!)];
        }
    }

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
    public IReadOnlyDictionary<string, List<long>> SealedParts(IReadOnlyList<string> traceIds) =>
        SegmentsHoldingEach(traceIds).ToDictionary(e => e.Key, e => e.Value.Select(s => s.SealSequence).ToList(), StringComparer.Ordinal);

    /// <summary>For each of <paramref name="traceIds"/> that is in a committed segment, the segments that hold it, in
    /// seal-sequence order, as one consistent view (one query under the lock, so a replacement cannot fall between
    /// "which sequences" and "which folders").</summary>
    public IReadOnlyDictionary<string, List<SegmentInfo>> SegmentsHoldingEach(IReadOnlyList<string> traceIds)
    {
        lock (_gate)
        {
            using var query = _connection.Prepare(
                "SELECT i.trace_id, s.seal_sequence FROM trace_index i JOIN segments s USING (seal_sequence) WHERE i.trace_id IN (SELECT unnest($1::VARCHAR[])) ORDER BY s.seal_sequence");
            query.BindList(1, DuckDbLogicalType.Varchar, traceIds);
            using var result = query.Execute();
            var rows = result.ReadAllRows();
            var segments = rows.Count == 0
                ? []
                : Select("seal_sequence IN (SELECT DISTINCT seal_sequence FROM trace_index WHERE trace_id IN (SELECT unnest($1::VARCHAR[])))", traceIds).ToDictionary(s => s.SealSequence);
            var parts = new Dictionary<string, List<SegmentInfo>>(StringComparer.Ordinal);
            foreach (var row in rows)
            {
                var id = (string)row[0]!;
                (parts.TryGetValue(id, out var list) ? list : parts[id] = []).Add(segments[(long)row[1]!]);
            }

            return parts;
        }
    }

    /// <summary>Per committed segment: its traces (by the trace index) and how many of them are deleted. Compaction
    /// drops segments whose traces are all deleted and rewrites those with many.</summary>
    public IReadOnlyList<(SegmentInfo Segment, long IndexedTraces, long DeletedTraces)> DeletedShares()
    {
        lock (_gate)
        {
            using (var any = _connection.Query("SELECT count(*) FROM deleted_traces"))
            {
                if (Convert.ToInt64(any.ReadAllRows()[0][0], System.Globalization.CultureInfo.InvariantCulture) == 0)
                {
                    // The common case, and the join below scans the whole trace index.
                    return [];
                }
            }

            using var result = _connection.Query(
                "SELECT i.seal_sequence, count(*), count(d.trace_id) FROM trace_index i LEFT JOIN deleted_traces d USING (trace_id) " +
                "GROUP BY i.seal_sequence HAVING count(d.trace_id) > 0");
            var counts = result.ReadAllRows().ToDictionary(r => (long)r[0]!, r => ((long)r[1]!, (long)r[2]!));
            return [.. Select("TRUE").Where(s => counts.ContainsKey(s.SealSequence)).Select(s => (s, counts[s.SealSequence].Item1, counts[s.SealSequence].Item2))];
        }
    }

    /// <summary>
    /// Forgets deletions that have done their work: the trace is in no committed segment any more, it was deleted
    /// before <paramref name="deletedBeforeUnixMs"/>, and no reader or seal that began before the last replacement is
    /// still running (one of those may still write the trace's earlier spans again). With the deletion go the trace's
    /// tag changes, assessments and run links (MLflow deletes them with the trace). Returns how many were purged.
    /// Spans of such a trace that arrive later make a new trace of their own, as spans logged to MLflow after a delete do.
    /// </summary>
    public int PurgeDeletedTraces(long deletedBeforeUnixMs)
    {
        lock (_gate)
        {
            if (_leases.Oldest < _leases.Version)
            {
                return 0;
            }

            const string Purged = "SELECT trace_id FROM deleted_traces d WHERE deleted_unix_ms < $1 AND NOT EXISTS (SELECT 1 FROM trace_index i WHERE i.trace_id = d.trace_id)";
            var purged = 0;
            InTransaction(() =>
            {
                foreach (var table in PerTraceTables)
                {
                    using var delete = _connection.Prepare($"DELETE FROM {table} WHERE trace_id IN ({Purged})");
                    delete.Bind(1, deletedBeforeUnixMs);
                    var rows = (int)delete.ExecuteNonQuery();
                    if (table == "deleted_traces")
                    {
                        purged = rows;
                    }
                }
            });
            return purged;
        }
    }

    /// <summary>Names of folders compaction replaced whose deletion is still pending (waiting for readers, or interrupted
    /// by a crash: the next open removes them).</summary>
    public IReadOnlyList<string> RetiredFolderNames()
    {
        lock (_gate)
        {
            using var result = _connection.Query("SELECT folder FROM retired_segments ORDER BY folder");
            return [.. result.ReadAllRows().Select(r => (string)r[0]!)];
        }
    }

    /// <summary>Deletes the folders compaction replaced before the store last closed (or crashed) and forgets them;
    /// returns their names. Called at open, before anything reads.</summary>
    public IReadOnlyList<string> RemoveRetired()
    {
        lock (_gate)
        {
            using var result = _connection.Query("SELECT folder FROM retired_segments ORDER BY folder");
            var names = result.ReadAllRows().Select(r => (string)r[0]!).ToList();
            foreach (var name in names)
            {
                var folder = Path.Combine(_segmentsFolder, name);
                if (Directory.Exists(folder))
                {
                    Directory.Delete(folder, recursive: true);
                }
            }

            _connection.Execute("DELETE FROM retired_segments");
            _retired.Clear();
            return names;
        }
    }

    /// <summary>Deletes segment folders that have no catalog row (a crash between writing and committing, or a
    /// replaced folder whose deletion a crash interrupted) and <c>.tmp</c> folders; returns their names.</summary>
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
        insert.Bind(12, _time.GetUtcNow().ToUnixTimeMilliseconds());
        insert.ExecuteNonQuery();
        if (segment.TraceIds is { Count: > 0 } ids)
        {
            using var index = _connection.Prepare("INSERT INTO trace_index SELECT DISTINCT unnest($1::VARCHAR[]), $2");
            index.BindList(1, DuckDbLogicalType.Varchar, ids);
            index.Bind(2, segment.SealSequence);
            index.ExecuteNonQuery();
        }
    }

    /// <summary>Runs <paramref name="work"/> in one transaction of the catalog connection (caller holds the lock).</summary>
    private void InTransaction(Action work)
    {
        _connection.Execute("BEGIN TRANSACTION");
        try
        {
            work();
            _connection.Execute("COMMIT");
        }
        catch
        {
            _connection.Execute("ROLLBACK");
            throw;
        }
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
}
