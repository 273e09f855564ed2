using TraceStore.DuckDb;
using TraceStore.Engine.Catalog;

namespace TraceStore.Engine.Segments;

/// <summary>
/// Merges small segments into one (size-tiered): the oldest segments below <c>smallBytes</c> are merged, up to
/// <c>targetBytes</c> of input. The merged segment keeps each span once (the copy in the earliest segment), the latest
/// summary of each trace (highest seal sequence), and leaves out deleted traces; every file keeps its sort order and
/// format. It is written like any segment (temporary folder, fsync, rename), then one catalog transaction replaces
/// the inputs by it, then the input folders are deleted (a crash before that leaves folders without catalog rows,
/// which the next open removes). Ingest never waits for it: it only reads committed files.
/// </summary>
public sealed class SegmentCompactor : IDisposable
{
    private readonly SegmentCatalog _catalog;
    private readonly DuckDbDatabase _database;
    private readonly DuckDbConnection _connection;

    public SegmentCompactor(SegmentCatalog catalog, long memoryLimitBytes = 64L << 20)
    {
        _catalog = catalog;
        _database = SegmentScratch.OpenDatabase(memoryLimitBytes, SegmentScratch.SpillFolder(catalog.SegmentsFolder));
        _connection = _database.Connect();
    }

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
        var sequence = _catalog.NextSealSequence();
        var final = Path.Combine(_catalog.SegmentsFolder, SegmentFormat.FolderName(sequence));
        var temporary = final + ".tmp";
        Directory.CreateDirectory(temporary);
        try
        {
            DefineSources(inputs);
            _connection.Execute(SegmentFormat.Copy("SELECT s.* EXCLUDE (f, src_row) FROM src_spans s JOIN kept_rows k USING (f, src_row)", "k.new_row", Path.Combine(temporary, SegmentFormat.SpansFile), SegmentFormat.SpanRowGroupRows));
            _connection.Execute(SegmentFormat.Copy(
                "SELECT p.* EXCLUDE (f) FROM src_payloads p SEMI JOIN kept_spans_at k ON k.trace_id = p.trace_id AND k.span_id = p.span_id AND k.f = p.f",
                "trace_id, span_id",
                Path.Combine(temporary, SegmentFormat.PayloadsFile),
                SegmentFormat.PayloadRowGroupRows));
            _connection.Execute(SegmentFormat.Copy(
                "SELECT a.key, a.value, CAST(k.new_row AS INTEGER) AS span_row FROM src_attrs a JOIN kept_rows k ON k.f = a.f AND k.src_row = a.span_row",
                SegmentFormat.AttrsOrder,
                Path.Combine(temporary, SegmentFormat.AttrsFile),
                SegmentFormat.AttrRowGroupRows));
            _connection.Execute(SegmentFormat.Copy("SELECT * FROM latest_traces", SegmentFormat.TracesOrder, Path.Combine(temporary, SegmentFormat.TracesFile), SegmentFormat.TraceRowGroupRows));
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
                _catalog.ReplaceSegments(inputs, merged);
            }

            foreach (var input in inputs)
            {
                Directory.Delete(input.Folder, recursive: true);
            }

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

    public void Dispose()
    {
        _connection.Dispose();
        _database.Dispose();
    }

    /// <summary>Views over the inputs. <c>f</c> is the source file's folder name, which sorts by seal sequence, so
    /// "the earliest copy of a span" is the one with the smallest <c>f</c>. <c>kept_rows</c> gives each kept span (by
    /// its folder and row in that folder's spans file) its row in the merged spans file, which the merged attrs file's
    /// <c>span_row</c> refers to.</summary>
    private void DefineSources(IReadOnlyList<SegmentInfo> inputs)
    {
        string Files(string name) => "[" + string.Join(", ", inputs.Select(s => DuckDbSql.Literal(Path.Combine(s.Folder, name)))) + "]";
        const string Folder = "regexp_extract(filename, 'seg-[0-9]+')";
        var deleted = _catalog.Overlay.DeletedTraceIds();
        _connection.Execute("CREATE OR REPLACE TEMP TABLE deleted (trace_id VARCHAR PRIMARY KEY)");
        using (var insert = _connection.Prepare("INSERT INTO deleted SELECT unnest($1::VARCHAR[])"))
        {
            insert.BindList(1, DuckDbLogicalType.Varchar, deleted);
            insert.ExecuteNonQuery();
        }

        _connection.Execute($"""
            CREATE OR REPLACE TEMP VIEW src_spans AS
                SELECT * EXCLUDE (filename, file_row_number), {Folder} AS f, file_row_number AS src_row
                FROM read_parquet({Files(SegmentFormat.SpansFile)}, filename = true, file_row_number = true)
                WHERE trace_id NOT IN (SELECT trace_id FROM deleted);
            CREATE OR REPLACE TEMP VIEW src_payloads AS
                SELECT * EXCLUDE (filename), {Folder} AS f FROM read_parquet({Files(SegmentFormat.PayloadsFile)}, filename = true);
            CREATE OR REPLACE TEMP VIEW src_attrs AS
                SELECT * EXCLUDE (filename), {Folder} AS f FROM read_parquet({Files(SegmentFormat.AttrsFile)}, filename = true);
            CREATE OR REPLACE TEMP TABLE kept_spans_at AS
                SELECT trace_id, span_id, min(f) AS f FROM src_spans GROUP BY trace_id, span_id;
            CREATE OR REPLACE TEMP TABLE kept_rows AS
                SELECT s.f, s.src_row, row_number() OVER (ORDER BY s.trace_id, s.start_time_ns, s.span_id) - 1 AS new_row
                FROM src_spans s SEMI JOIN kept_spans_at k ON k.trace_id = s.trace_id AND k.span_id = s.span_id AND k.f = s.f;
            CREATE OR REPLACE TEMP VIEW latest_traces AS
                SELECT * FROM read_parquet({Files(SegmentFormat.TracesFile)})
                WHERE trace_id NOT IN (SELECT trace_id FROM deleted)
                QUALIFY row_number() OVER (PARTITION BY trace_id ORDER BY seal_sequence DESC) = 1;
            """);
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
