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
    /// <summary>Reader memory per byte of an input's largest row group, uncompressed (measured 2.2: a margin over it).</summary>
    private const long ReaderBytesPerRowGroupByte = 3;

    /// <summary>Reader memory per open input beyond its row group (a streaming result's buffer, measured 0.56 MB for a
    /// reader of two id columns).</summary>
    private const long ReaderBytesPerInput = 2L << 20;

    private const long ReaderHeadroomBytes = 32L << 20;

    private static int s_functions;

    private readonly SegmentCatalog _catalog;
    private readonly DuckDbDatabase? _ownDatabase;
    private readonly DuckDbConnection _connection;
    private readonly TextIndexBuilder _textIndex = new();

    /// <summary>The table function through which a COPY writes <see cref="_merging"/>'s rows: a name per compactor, as
    /// compactors may share a database.</summary>
    private readonly string _mergeFunction = $"segment_merge_{Interlocked.Increment(ref s_functions)}";
    private SortedMerge? _merging;

    /// <param name="memoryLimitBytes">DuckDB's memory for a merge; beyond it DuckDB spills to the store's <c>tmp/</c>
    /// folder. Not in the ingest memory budget (like the segment writer's).</param>
    public SegmentCompactor(SegmentCatalog catalog, long memoryLimitBytes = 64L << 20)
    {
        _catalog = catalog;
        _ownDatabase = OpenDatabase(memoryLimitBytes, catalog);
        _connection = _ownDatabase.Connect();
        _connection.RegisterTableFunction(new SegmentMergeFunction(_mergeFunction, () => _merging));
    }

    /// <summary>A compactor on a connection of <paramref name="database"/>, which the caller owns (the maintenance loop
    /// shares one DuckDB, and so one memory limit, between compaction and retention); open it with
    /// <see cref="OpenDatabase"/>.</summary>
    internal SegmentCompactor(SegmentCatalog catalog, DuckDbDatabase database)
    {
        _catalog = catalog;
        _connection = database.Connect();
        _connection.RegisterTableFunction(new SegmentMergeFunction(_mergeFunction, () => _merging));
    }

    /// <summary>The DuckDB a compactor writes with: one thread, and insertion order preserved, so a COPY writes the
    /// merge's rows in the order the merge function produces them.</summary>
    internal static DuckDbDatabase OpenDatabase(long memoryLimitBytes, SegmentCatalog catalog) =>
        SegmentScratch.OpenDatabase(memoryLimitBytes, SegmentScratch.SpillFolder(catalog.SegmentsFolder));

    /// <summary>Runs after a merge read the overlay and before it commits: tests make a concurrent change land
    /// there, deterministically.</summary>
    internal Action? AfterOverlaySnapshot { get; set; }

    /// <summary>The segments a merge would take now: the oldest of those smaller than <paramref name="smallBytes"/>,
    /// until their bytes reach <paramref name="targetBytes"/> or they number <paramref name="maxInputs"/>; empty unless
    /// at least two qualify. The count bound is what keeps a merge's reading memory bounded: every input is read
    /// through a stream of its own that holds a row group and a chunk (see <see cref="ReaderMemoryBytes"/>), so a
    /// store that sealed thousands of tiny segments (a trickle of traffic, one segment per <c>SegmentMaxDelay</c>)
    /// merges them a bounded batch at a time.</summary>
    public IReadOnlyList<SegmentInfo> Plan(long smallBytes, long targetBytes, int maxInputs = int.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxInputs, 2);
        var chosen = new List<SegmentInfo>();
        long bytes = 0;
        // Only segments of the current format merge: version 1 named spans in attrs by text ids.
        foreach (var segment in _catalog.Segments().Where(s => s.Bytes < smallBytes && s.FormatVersion == SegmentFormat.Version))
        {
            if (bytes >= targetBytes || chosen.Count == maxInputs)
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
            var deleted = _catalog.Overlay.DeletedTraceIdsIn(sequences);
            DefineSources(inputs, deleted, fold.Changes);
            AfterOverlaySnapshot?.Invoke();
            var folds = FoldedTags();
            WriteMergedRows([.. inputs.OrderBy(s => s.SealSequence)], new TraceIdSet(deleted), folds.Count > 0 ? folds : null, temporary);
            if (folds.Count > 0)
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
    /// The tables and views of the tag changes a merge folds (small: one row per changed trace and key, so SQL and a
    /// sort are fine): <c>deleted</c> the deleted trace ids; <c>folded</c>, per trace and tag key, the latest change
    /// among the overlay's snapshot and the inputs' folded changes; <c>kept_tag_changes</c> those of the traces the
    /// inputs hold (the merged segment's tag-changes file). The summaries themselves are merged in C#
    /// (<see cref="TracesMerge"/>), which applies <see cref="FoldedTags"/>.
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
        _connection.Execute($$"""
            CREATE OR REPLACE TEMP TABLE folded AS
                SELECT * FROM (SELECT * FROM overlay_changes {{earlierFolds}})
                WHERE trace_id NOT IN (SELECT trace_id FROM deleted)
                QUALIFY row_number() OVER (PARTITION BY trace_id, key ORDER BY change_seq DESC) = 1;
            CREATE OR REPLACE TEMP VIEW kept_tag_changes AS
                SELECT trace_id, key, value, deleted, change_seq FROM folded
                WHERE trace_id IN (SELECT trace_id FROM read_parquet({{Files(inputs, SegmentFormat.TracesFile)}}));
            """);
    }

    /// <summary>The changes <c>kept_tag_changes</c> holds, for <see cref="TracesMerge"/> to apply.</summary>
    private TagFolds FoldedTags()
    {
        using var result = _connection.Query("SELECT trace_id, key, value, deleted FROM kept_tag_changes");
        return new TagFolds(result.ReadAllRows().Select(row => ((string)row[0]!, (string)row[1]!, (string?)row[2], (bool)row[3]!)));
    }

    /// <summary>
    /// Writes the merged spans, payloads and attrs files of <paramref name="inputs"/> (in seal order) into
    /// <paramref name="folder"/>: each a k-way merge of the inputs' files, which are sorted already
    /// (<see cref="SortedMerge"/>), streamed by one COPY in the order the merge produces its rows. Spans first: their
    /// merged rows renumber the attrs' <c>span_row</c>. Then the traces file, with <paramref name="folds"/> applied to
    /// the changed traces' tags. The inputs are read in a DuckDB of their own
    /// (<see cref="ReaderMemoryBytes"/>): the COPY's scan fetches their chunks from inside the compactor's DuckDB's
    /// query, and the two instances share no lock, thread or memory limit.
    /// </summary>
    private void WriteMergedRows(IReadOnlyList<SegmentInfo> inputs, TraceIdSet deleted, TagFolds? folds, string folder)
    {
        IReadOnlyList<string> Files(string name) => [.. inputs.Select(s => Path.Combine(s.Folder, name))];
        using var database = SegmentScratch.OpenDatabase(
            ReaderMemoryBytes([.. Files(SegmentFormat.SpansFile), .. Files(SegmentFormat.PayloadsFile), .. Files(SegmentFormat.AttrsFile)], inputs.Count),
            SegmentScratch.SpillFolder(_catalog.SegmentsFolder));
        List<MergeInput> Open(string file, string[] keys)
        {
            var opened = new List<MergeInput>();
            try
            {
                foreach (var path in Files(file))
                {
                    opened.Add(new MergeInput(database, path, opened.Count, "*", keys));
                }

                return opened;
            }
            catch
            {
                opened.ForEach(input => input.Dispose());
                throw;
            }
        }

        int[][] mergedSpanRows;
        var spanCopies = FirstCopies.Find(database, Files(SegmentFormat.SpansFile));
        using (var spans = new SpansMerge(Open(SegmentFormat.SpansFile, SpansMerge.Keys), spanCopies, deleted))
        {
            CopyMerged(spans, Path.Combine(folder, SegmentFormat.SpansFile), SegmentFormat.SpanRowGroupRows);
            mergedSpanRows = spans.MergedRows;
        }

        var payloadCopies = FirstCopies.Find(database, Files(SegmentFormat.PayloadsFile));
        using (var payloads = new PayloadsMerge(Open(SegmentFormat.PayloadsFile, PayloadsMerge.Keys), payloadCopies, deleted))
        {
            CopyMerged(payloads, Path.Combine(folder, SegmentFormat.PayloadsFile), SegmentFormat.PayloadRowGroupRows);
        }

        using (var attrs = new AttrsMerge(Open(SegmentFormat.AttrsFile, AttrsMerge.Keys), mergedSpanRows))
        {
            CopyMerged(attrs, Path.Combine(folder, SegmentFormat.AttrsFile), SegmentFormat.AttrRowGroupRows);
        }

        var latest = LatestSummaries.Find(database, Files(SegmentFormat.TracesFile));
        using (var traces = new TracesMerge(Open(SegmentFormat.TracesFile, TracesMerge.Keys), latest, deleted, folds))
        {
            CopyMerged(traces, Path.Combine(folder, SegmentFormat.TracesFile), SegmentFormat.TraceRowGroupRows);
        }
    }

    /// <summary>
    /// The memory limit of the DuckDB a merge reads its inputs with: what the open row groups of <paramref name="files"/>
    /// need, which DuckDB cannot spill (a reader holds its row group's pages decompressed while it reads them, counted
    /// as DuckDB's <c>ALLOCATOR</c> memory): for each kind of file, the largest row group of every input, uncompressed,
    /// times <see cref="ReaderBytesPerRowGroupByte"/>, plus <see cref="ReaderHeadroomBytes"/>. The merge's own limit is
    /// the writer's (the COPY's row groups, which spill), so the readers' need does not count against it, and what they
    /// need grows with the number of inputs and their row-group sizes, not with the inputs' total size. It is a bound,
    /// not what the readers take: the chunks a reader has decoded are outside DuckDB's accounting
    /// (<see cref="MergeInput"/> keeps them to one ahead).
    /// </summary>
    private long ReaderMemoryBytes(IReadOnlyList<string> files, int inputCount)
    {
        using var result = _connection.Query(
            "SELECT CAST(coalesce(max(need), 0) AS BIGINT) FROM (SELECT parse_filename(file_name) AS kind, sum(largest) AS need FROM (" +
            "SELECT file_name, max(bytes) AS largest FROM (SELECT file_name, row_group_id, sum(total_uncompressed_size) AS bytes FROM parquet_metadata([" +
            string.Join(", ", files.Select(DuckDbSql.Literal)) + "]) GROUP BY ALL) GROUP BY ALL) GROUP BY ALL)");
        var largest = (long)result.ReadAllRows()[0][0]!;
        return (largest * ReaderBytesPerRowGroupByte) + ReaderHeadroomBytes + (inputCount * ReaderBytesPerInput);
    }

    /// <summary>One COPY of <paramref name="merge"/>'s rows, in the order it produces them, to <paramref name="path"/>
    /// as a segment file (zstd level, row groups and bloom filters as the writer's).</summary>
    private void CopyMerged(SortedMerge merge, string path, int rowGroupRows)
    {
        _merging = merge;
        try
        {
            _connection.Execute(SegmentFormat.CopyInOrder($"SELECT * FROM {_mergeFunction}()", path, rowGroupRows));
        }
        finally
        {
            _merging = null;
        }
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
