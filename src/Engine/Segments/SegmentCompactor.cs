using TraceStore.DuckDb;
using TraceStore.Engine.Catalog;

namespace TraceStore.Engine.Segments;

/// <summary>
/// Merges segments into one (size-tiered: the oldest segments below <c>smallBytes</c>, up to <c>targetBytes</c> of
/// input; or one segment alone, to drop its deleted traces). The merged segment keeps each span once (the copy in the
/// earliest segment), the latest summary of each trace (highest seal sequence), and leaves out deleted traces; every
/// file keeps its sort order and format. Tag changes of the traces it keeps are folded in: the overlay's (up to a
/// snapshot taken before writing) and those earlier merges folded into its inputs, written into the summaries' tags and
/// listed in <see cref="SegmentFormat.TagChangesFile"/>. It is written like any segment (temporary folder, fsync,
/// rename), then one catalog transaction replaces the inputs by it and removes the folded changes from the overlay,
/// then the input folders are deleted once no reader can be using them. Ingest never waits for it: it reads only
/// committed files, in its own DuckDB, and holds the catalog's lock only for short catalog calls. One compactor per
/// store (the maintenance loop's): two merging the same inputs would fail the second's commit.
/// </summary>
public sealed class SegmentCompactor : IDisposable
{
    /// <summary>The seal sequence of the folder a row was read from (<c>filename = true</c>): orders inputs by age.</summary>
    private const string FolderOfFile = "CAST(regexp_extract(filename, 'seg-([0-9]+)', 1) AS BIGINT)";

    /// <summary>
    /// The merged attrs rows: each input attribute whose span was kept, with that span's row in the merged spans file.
    /// The lookup of (f, span_row) in <c>kept_rows</c> is a window over both, sorted by (f, src_row), not a hash join:
    /// the hash join's table for a million-span trace spills under the merge's memory limit, and DuckDB crashed in
    /// JoinHashTable::ProbeAndSpill on such a spill. Within one input folder kept spans keep their relative order
    /// (both files are sorted by <see cref="SegmentFormat.SpansOrder"/>), so the running maximum of kept rows up to an
    /// attribute is its span's row when that span was kept, and an earlier span's when it was not (then the
    /// attribute is dropped: its span's first copy, with the same attributes, is in an earlier folder or deleted).
    /// </summary>
    private const string AttrsOfKeptSpans = """
        SELECT key, value, CAST(new_row AS INTEGER) AS span_row FROM (
            SELECT key, value, src_row, kind,
                max(CASE WHEN kind = 0 THEN src_row END) OVER w AS kept_src_row,
                max(CASE WHEN kind = 0 THEN new_row END) OVER w AS new_row
            FROM (
                SELECT f, src_row, new_row, 0 AS kind, NULL AS key, NULL AS value FROM kept_rows
                UNION ALL BY NAME
                SELECT f, span_row AS src_row, NULL AS new_row, 1 AS kind, key, value FROM src_attrs)
            WINDOW w AS (PARTITION BY f ORDER BY src_row, kind ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))
        WHERE kind = 1 AND kept_src_row = src_row
        """;

    /// <summary>
    /// A sorted COPY of spans or payloads is done in trace-id slices small enough for the merge's memory limit: DuckDB's
    /// sort of these wide rows (maps, long strings) does not stay within its limit by spilling; its need grows with its
    /// input. Measured with <c>tracestore bench compact</c>'s inputs, 1 thread: sorting 62,400 small spans (8
    /// segments, 2.7 MB of Parquet) failed at 64 MiB and passed at 128 MiB; 748,800 (31 MB) failed at 128 MiB and passed
    /// at 256 MiB: about 1-2 KiB of memory per span. A slice takes at most the memory limit / this many bytes spans
    /// (twice that measure, for margin).
    /// </summary>
    private const long SortBytesPerSpan = 4096;

    /// <summary>A payloads slice holds at most the memory limit / this of uncompressed payload bytes (long text, stored
    /// as it is: Parquet's uncompressed size is about its size in memory).</summary>
    private const int PayloadSliceFractionOfMemory = 16;

    private readonly SegmentCatalog _catalog;
    private readonly DuckDbDatabase? _ownDatabase;
    private readonly DuckDbConnection _connection;
    private readonly long _memoryLimitBytes;
    private readonly TextIndexBuilder _textIndex = new();

    /// <param name="memoryLimitBytes">DuckDB's memory for a merge; beyond it DuckDB spills to the store's <c>tmp/</c>
    /// folder. Not in the ingest memory budget (like the segment writer's).</param>
    public SegmentCompactor(SegmentCatalog catalog, long memoryLimitBytes = 64L << 20)
    {
        _catalog = catalog;
        _memoryLimitBytes = memoryLimitBytes;
        _ownDatabase = SegmentScratch.OpenDatabase(memoryLimitBytes, SegmentScratch.SpillFolder(catalog.SegmentsFolder));
        _connection = _ownDatabase.Connect();
    }

    /// <summary>A compactor on a connection of <paramref name="database"/>, which the caller owns (the maintenance loop
    /// shares one DuckDB, and so one memory limit, <paramref name="memoryLimitBytes"/>, between compaction and
    /// retention).</summary>
    internal SegmentCompactor(SegmentCatalog catalog, DuckDbDatabase database, long memoryLimitBytes)
    {
        _catalog = catalog;
        _memoryLimitBytes = memoryLimitBytes;
        _connection = database.Connect();
    }

    /// <summary>Runs after a merge read the overlay and before it commits: tests make a concurrent change land
    /// there, deterministically.</summary>
    internal Action? AfterOverlaySnapshot { get; set; }

    /// <summary>The segments a merge would take now: the oldest of those smaller than <paramref name="smallBytes"/>,
    /// until their bytes reach <paramref name="targetBytes"/>; empty unless at least two qualify.</summary>
    public IReadOnlyList<SegmentInfo> Plan(long smallBytes, long targetBytes)
    {
        var chosen = new List<SegmentInfo>();
        long bytes = 0;
        // Only segments of the current format merge: version 1 named spans in attrs by text ids.
        foreach (var segment in _catalog.Segments().Where(s => s.Bytes < smallBytes && s.FormatVersion == SegmentFormat.Version))
        {
            if (bytes >= targetBytes)
            {
                break;
            }

            chosen.Add(segment);
            bytes += segment.Bytes;
        }

        return chosen.Count >= 2 ? chosen : [];
    }

    /// <summary>Merges <paramref name="inputs"/> into one new committed segment and removes them. Returns the merged
    /// segment, or null when nothing was left to keep (every trace deleted), in which case the inputs are just removed.</summary>
    public SegmentInfo? Merge(IReadOnlyList<SegmentInfo> inputs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputs.Count, 1, nameof(inputs));
        var sequences = inputs.Select(s => s.SealSequence).ToList();
        var sequence = _catalog.AllocateSealSequence();
        var final = Path.Combine(_catalog.SegmentsFolder, SegmentFormat.FolderName(sequence));
        var temporary = final + ".tmp";
        Directory.CreateDirectory(temporary);
        try
        {
            // The snapshot first: a change made after it has a higher number, is not folded and stays in the overlay.
            var fold = _catalog.Overlay.TagChangesToFold(sequences);
            DefineSources(inputs, _catalog.Overlay.DeletedTraceIdsIn(sequences), fold.Changes);
            AfterOverlaySnapshot?.Invoke();
            var slices = DefineSlices(inputs);
            CopyInSlices(slices, "SELECT * EXCLUDE (f, src_row) FROM kept_spans", SegmentFormat.SpansOrder, temporary, SegmentFormat.SpansFile, SegmentFormat.SpanRowGroupRows);
            CopyInSlices(
                slices,
                "SELECT * EXCLUDE (f) FROM src_payloads QUALIFY row_number() OVER (PARTITION BY trace_id, span_id ORDER BY f) = 1",
                "trace_id, span_id",
                temporary,
                SegmentFormat.PayloadsFile,
                SegmentFormat.PayloadRowGroupRows);
            _connection.Execute(SegmentFormat.Copy(
                AttrsOfKeptSpans,
                SegmentFormat.AttrsOrder,
                Path.Combine(temporary, SegmentFormat.AttrsFile),
                SegmentFormat.AttrRowGroupRows));
            _connection.Execute(SegmentFormat.Copy("SELECT * FROM merged_traces", SegmentFormat.TracesOrder, Path.Combine(temporary, SegmentFormat.TracesFile), SegmentFormat.TraceRowGroupRows));
            if (Count("SELECT count(*) FROM kept_tag_changes") > 0)
            {
                _connection.Execute(SegmentFormat.Copy("SELECT * FROM kept_tag_changes", "trace_id, key", Path.Combine(temporary, SegmentFormat.TagChangesFile), rowGroupRows: null));
            }

            // The merged segment's text index, from its own files (the inputs' indexes number other rows), when any
            // input had one: the index is the writer's option (SegmentWriterOptions.TextIndex), and a merge keeps it.
            if (inputs.Any(s => TextIndexFormat.HasIndex(s.Folder)))
            {
                _textIndex.Build(_connection, temporary);
            }
            var merged = Describe(sequence, final, temporary);
            var bytes = SegmentScratch.SyncFiles(temporary);

            if (merged is null)
            {
                Directory.Delete(temporary, recursive: true);
                _catalog.ReplaceSegments(inputs, merged: null);
            }
            else
            {
                Directory.Move(temporary, final);
                merged = merged with { Bytes = bytes };
                _catalog.ReplaceSegments(inputs, merged, new OverlayFold(fold.ChangeSequence, merged.TraceIds!));
            }

            _catalog.DeleteRetiredFolders();
            return merged;
        }
        finally
        {
            if (Directory.Exists(temporary))
            {
                Directory.Delete(temporary, recursive: true);
            }
        }
    }

    /// <summary>Removes <paramref name="segments"/> without rewriting anything: for segments whose every trace is
    /// deleted (retention, deletions). Their folders go like merged inputs' do.</summary>
    public void Drop(IReadOnlyList<SegmentInfo> segments)
    {
        _catalog.ReplaceSegments(segments, merged: null);
        _catalog.DeleteRetiredFolders();
    }

    public void Dispose()
    {
        _connection.Dispose();
        _ownDatabase?.Dispose();
    }

    /// <summary>
    /// Views over the inputs. <c>f</c> is the source folder's seal sequence, so "the earliest copy of a span" is the
    /// one with the smallest <c>f</c>, and <c>src_row</c> a span's row in its folder's spans file. <c>kept_rows</c>
    /// gives each kept span its row in the merged spans file (which is sorted by <see cref="SegmentFormat.SpansOrder"/>,
    /// a total order over kept spans), which the merged attrs file's <c>span_row</c> refers to. <c>folded</c> holds,
    /// per kept trace and tag key, the latest change among the overlay's snapshot and the inputs' folded changes;
    /// <c>merged_traces</c> is each trace's latest summary with those changes applied to its tags.
    /// </summary>
    private void DefineSources(IReadOnlyList<SegmentInfo> inputs, IReadOnlyList<string> deleted, IReadOnlyList<TagChange> changes)
    {
        string Files(IEnumerable<SegmentInfo> segments, string name) => "[" + string.Join(", ", segments.Select(s => DuckDbSql.Literal(Path.Combine(s.Folder, name)))) + "]";
        _connection.Execute("CREATE OR REPLACE TEMP TABLE deleted (trace_id VARCHAR PRIMARY KEY)");
        using (var insert = _connection.Prepare("INSERT INTO deleted SELECT unnest($1::VARCHAR[])"))
        {
            insert.BindList(1, DuckDbLogicalType.Varchar, deleted);
            insert.ExecuteNonQuery();
        }

        _connection.Execute("CREATE OR REPLACE TEMP TABLE overlay_changes (trace_id VARCHAR, key VARCHAR, value VARCHAR, deleted BOOLEAN, change_seq BIGINT)");
        using (var insert = _connection.Prepare(
            "INSERT INTO overlay_changes SELECT unnest($1::VARCHAR[]), unnest($2::VARCHAR[]), unnest($3::VARCHAR[]), unnest($4::BOOLEAN[]), unnest($5::BIGINT[])"))
        {
            insert.BindList(1, DuckDbLogicalType.Varchar, changes.Select(c => c.TraceId).ToList());
            insert.BindList(2, DuckDbLogicalType.Varchar, changes.Select(c => c.Key).ToList());
            insert.BindList(3, DuckDbLogicalType.Varchar, changes.Select(c => c.Value).ToList());
            insert.BindList(4, DuckDbLogicalType.Boolean, changes.Select(c => c.Deleted).ToList());
            insert.BindList(5, DuckDbLogicalType.BigInt, changes.Select(c => c.ChangeSequence).ToList());
            insert.ExecuteNonQuery();
        }

        var withFoldedChanges = inputs.Where(s => File.Exists(Path.Combine(s.Folder, SegmentFormat.TagChangesFile))).ToList();
        var earlierFolds = withFoldedChanges.Count == 0
            ? ""
            : $"UNION ALL SELECT trace_id, key, value, deleted, change_seq FROM read_parquet({Files(withFoldedChanges, SegmentFormat.TagChangesFile)})";
        // Each span's copy in the earliest input folder is kept by a window over (trace_id, span_id), not by a join
        // against a table of kept keys: with a million-span trace that hash join spilled under the memory limit and
        // DuckDB crashed the process in JoinHashTable::ProbeAndSpill (SIGSEGV, seen twice in the memory harness).
        _connection.Execute($$"""
            CREATE OR REPLACE TEMP VIEW src_spans AS
                SELECT * EXCLUDE (filename, file_row_number), {{FolderOfFile}} AS f, file_row_number AS src_row
                FROM read_parquet({{Files(inputs, SegmentFormat.SpansFile)}}, filename = true, file_row_number = true)
                WHERE trace_id NOT IN (SELECT trace_id FROM deleted);
            CREATE OR REPLACE TEMP VIEW src_payloads AS
                SELECT * EXCLUDE (filename), {{FolderOfFile}} AS f FROM read_parquet({{Files(inputs, SegmentFormat.PayloadsFile)}}, filename = true)
                WHERE trace_id NOT IN (SELECT trace_id FROM deleted);
            CREATE OR REPLACE TEMP VIEW src_attrs AS
                SELECT * EXCLUDE (filename), {{FolderOfFile}} AS f FROM read_parquet({{Files(inputs, SegmentFormat.AttrsFile)}}, filename = true);
            CREATE OR REPLACE TEMP VIEW kept_spans AS
                SELECT * FROM src_spans QUALIFY row_number() OVER (PARTITION BY trace_id, span_id ORDER BY f) = 1;
            CREATE OR REPLACE TEMP TABLE kept_rows AS
                SELECT f, src_row, row_number() OVER (ORDER BY {{SegmentFormat.SpansOrder}}) - 1 AS new_row FROM kept_spans;
            CREATE OR REPLACE TEMP VIEW latest_traces AS
                SELECT * FROM read_parquet({{Files(inputs, SegmentFormat.TracesFile)}})
                WHERE trace_id NOT IN (SELECT trace_id FROM deleted)
                QUALIFY row_number() OVER (PARTITION BY trace_id ORDER BY seal_sequence DESC) = 1;
            CREATE OR REPLACE TEMP TABLE folded AS
                SELECT * FROM (SELECT * FROM overlay_changes {{earlierFolds}})
                WHERE trace_id NOT IN (SELECT trace_id FROM deleted)
                QUALIFY row_number() OVER (PARTITION BY trace_id, key ORDER BY change_seq DESC) = 1;
            CREATE OR REPLACE TEMP VIEW kept_tag_changes AS
                SELECT trace_id, key, value, deleted, change_seq FROM folded SEMI JOIN latest_traces USING (trace_id);
            CREATE OR REPLACE TEMP VIEW merged_traces AS
                SELECT t.* REPLACE (
                    CASE WHEN c.trace_id IS NULL THEN t.tags
                    ELSE map_from_entries(list_sort(list_concat(
                        list_filter(map_entries(t.tags), lambda e: NOT list_contains(c.keys, e.key)), c.sets))) END AS tags)
                FROM latest_traces t LEFT JOIN (
                    SELECT trace_id, list(key) AS keys, list({'key': key, 'value': value}) FILTER (WHERE NOT deleted) AS sets
                    FROM folded GROUP BY trace_id) c ON c.trace_id = t.trace_id;
            """);
    }

    /// <summary>
    /// How many trace-id slices the spans and payloads COPYs take (1: no slicing): enough that each holds at most
    /// the memory limit / <see cref="SortBytesPerSpan"/> spans and 1/<see cref="PayloadSliceFractionOfMemory"/> of the
    /// memory limit of uncompressed payloads. The slices' lower bounds (all but the first, which has none) go in the temp
    /// table <c>slice_bounds</c>: trace-id quantiles of the input spans, so the SQL text never holds a trace id.
    /// </summary>
    private int DefineSlices(IReadOnlyList<SegmentInfo> inputs)
    {
        var payloads = Count("SELECT CAST(coalesce(sum(total_uncompressed_size), 0) AS BIGINT) FROM parquet_metadata([" +
            string.Join(", ", inputs.Select(s => DuckDbSql.Literal(Path.Combine(s.Folder, SegmentFormat.PayloadsFile)))) + "])");
        long Slices(long amount, long perSlice) => (amount + Math.Max(1, perSlice) - 1) / Math.Max(1, perSlice);
        var slices = (int)Math.Clamp(
            Math.Max(Slices(inputs.Sum(s => s.Spans), _memoryLimitBytes / SortBytesPerSpan), Slices(payloads, _memoryLimitBytes / PayloadSliceFractionOfMemory)),
            1,
            10_000);
        var fractions = string.Join(", ", Enumerable.Range(1, slices - 1).Select(i => ((double)i / slices).ToString("R", System.Globalization.CultureInfo.InvariantCulture)));
        _connection.Execute(slices == 1
            ? "CREATE OR REPLACE TEMP TABLE slice_bounds (i BIGINT, lo VARCHAR)"
            : $"CREATE OR REPLACE TEMP TABLE slice_bounds AS SELECT row_number() OVER (ORDER BY lo) AS i, lo FROM (SELECT DISTINCT unnest(quantile_disc(trace_id, [{fractions}])) AS lo FROM src_spans)");
        return (int)Count("SELECT count(*) FROM slice_bounds") + 1;
    }

    /// <summary>
    /// COPYs <paramref name="select"/> sorted by <paramref name="order"/> (which begins with trace_id) to
    /// <paramref name="file"/> in <paramref name="folder"/>. In slices (see <see cref="DefineSlices"/>): each trace-id
    /// range is sorted alone into a temporary file (the inputs are sorted by trace id, so Parquet's row-group
    /// statistics skip most of what is outside the range), then the slice files are copied in order, as they are
    /// (insertion order preserved, no sort), into the segment file.
    /// </summary>
    private void CopyInSlices(int slices, string select, string order, string folder, string file, int rowGroupRows)
    {
        var path = Path.Combine(folder, file);
        if (slices == 1)
        {
            _connection.Execute(SegmentFormat.Copy(select, order, path, rowGroupRows));
            return;
        }

        var scratch = Path.Combine(folder, "slices");
        Directory.CreateDirectory(scratch);
        var parts = new List<string>();
        try
        {
            for (var i = 0; i < slices; i++)
            {
                // Bounds are set as variables from the table: getvariable() is a constant when the COPY is bound, so the
                // range reaches the Parquet scan's row-group pruning.
                _connection.Execute($"SET VARIABLE slice_lo = coalesce((SELECT lo FROM slice_bounds WHERE i = {i}), '')");
                _connection.Execute($"SET VARIABLE slice_hi = (SELECT lo FROM slice_bounds WHERE i = {i + 1})");
                var range = i == slices - 1 ? "trace_id >= getvariable('slice_lo')" : "trace_id >= getvariable('slice_lo') AND trace_id < getvariable('slice_hi')";
                var part = Path.Combine(scratch, $"{Path.GetFileNameWithoutExtension(file)}-{i}.parquet");
                _connection.Execute($"COPY (SELECT * FROM ({select}) WHERE {range} ORDER BY {order}) TO {DuckDbSql.Literal(part)} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, ROW_GROUP_SIZE 2048)");
                parts.Add(part);
            }

            _connection.Execute("SET preserve_insertion_order = true");
            try
            {
                _connection.Execute(SegmentFormat.CopyInOrder($"SELECT * FROM read_parquet([{string.Join(", ", parts.Select(DuckDbSql.Literal))}])", path, rowGroupRows));
            }
            finally
            {
                _connection.Execute("SET preserve_insertion_order = false");
            }
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    private long Count(string sql)
    {
        using var result = _connection.Query(sql);
        return Convert.ToInt64(result.ReadAllRows()[0][0], System.Globalization.CultureInfo.InvariantCulture);
    }

    private SegmentInfo? Describe(long sequence, string final, string temporary)
    {
        var spans = DuckDbSql.Literal(Path.Combine(temporary, SegmentFormat.SpansFile));
        var traces = DuckDbSql.Literal(Path.Combine(temporary, SegmentFormat.TracesFile));
        using var result = _connection.Query(
            $"SELECT (SELECT count(*) FROM read_parquet({traces})), count(*), min(trace_id), max(trace_id), min(start_time_ns), max(start_time_ns), " +
            $"(SELECT list(DISTINCT experiment_id ORDER BY experiment_id) FROM read_parquet({traces})) FROM read_parquet({spans})");
        var r = result.ReadAllRows()[0];
        var traceCount = (long)r[0]!;
        if (traceCount == 0)
        {
            return null;
        }

        var experiments = ((List<object?>)r[6]!).Select(e => (string)e!).ToList();
        using var ids = _connection.Query($"SELECT trace_id FROM read_parquet({traces})");
        return new SegmentInfo(sequence, final, SegmentFormat.Version, experiments, traceCount, (long)r[1]!, (string)r[2]!, (string)r[3]!, (long)r[4]!, (long)r[5]!, Bytes: 0)
        {
            TraceIds = [.. ids.ReadAllRows().Select(row => (string)row[0]!)],
        };
    }
}
