using TraceStore.DuckDb;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Segments;
using TraceStore.Engine.Traces;

namespace TraceStore.Engine.Hot;

/// <summary>What <see cref="HotTables.Materialize"/> wrote: hot traces (one summary row each) and their spans.</summary>
public readonly record struct HotTablesWritten(int Traces, long Spans);

/// <summary>
/// Puts a hot snapshot into a DuckDB database as tables with the segment files' columns, so one SQL query can read hot
/// and sealed data together (the query session's views union them): <c>hot_traces</c>, <c>hot_spans</c>,
/// <c>hot_payloads</c> get exactly the rows the segment writer would write for these traces, produced by the writer's
/// own table functions (<see cref="SegmentFile"/>), so their columns follow whatever the writer writes.
/// <c>hot_attrs</c> is the one exception: (key, value, trace_id, span_id), because the file's <c>span_row</c> names a
/// row of one segment's spans file and means nothing across the hot snapshot. (Why tables and not a table function:
/// docs/reads.md.)
/// <para>Rows: every unsealed span of each trace once (a trace seen in several hot parts is merged); one summary row
/// per trace with <c>seal_sequence</c> = <see cref="HotIndex.HotSealSequence"/>, covering its sealed parts too
/// (<see cref="HotSummary.Combine"/>). Spans that sealed parts also hold (retries across a seal, or a trace seen
/// pending and just committed) are in both places: readers dedupe by span id.</para>
/// <para>Memory: DuckDB holds a copy of the hot data in the snapshot; on the C# side the traces are read (open ones
/// copied) and put in order a batch of about <see cref="BatchSpans"/> spans at a time.</para>
/// <para>One instance per database: it registers the table functions there. Not thread-safe.</para>
/// </summary>
internal sealed class HotTables
{
    public const string Prefix = "hot_";

    /// <summary>Spans put in order and inserted per batch: bounds the C# side's copies and sort arrays.</summary>
    internal const int BatchSpans = 65_536;

    private readonly DuckDbConnection _connection;
    private readonly SegmentRows _rows = new();
    private SegmentRows? _current;

    /// <param name="connection">The session's connection; the writer's table functions are registered in its database
    /// (so at most one <see cref="HotTables"/> per database).</param>
    public HotTables(DuckDbConnection connection)
    {
        _connection = connection;
        var files = new SegmentFile[] { new SpansFile(), new PayloadsFile(), new AttrsFile(), new TracesFile() };
        for (var i = 0; i < files.Length; i++)
        {
            connection.RegisterTableFunction(new SegmentFileFunction(SegmentFormat.WrittenFiles[i].Function, files[i], () => _current));
        }
    }

    /// <summary>The tables, by the names of the segment files they mirror.</summary>
    public static IReadOnlyList<string> Names { get; } =
        [.. new[] { SegmentFormat.TracesFile, SegmentFormat.SpansFile, SegmentFormat.PayloadsFile, SegmentFormat.AttrsFile }.Select(Path.GetFileNameWithoutExtension).Select(n => n!)];

    /// <summary>
    /// Replaces the hot tables with a snapshot of <paramref name="hot"/> (traces whose key passes
    /// <paramref name="include"/>). Reads the catalog after the snapshot (for the sealed summaries of traces that have
    /// sealed parts).
    /// </summary>
    public HotTablesWritten Materialize(HotIndex hot, Func<TraceKey, bool>? include = null)
    {
        var traces = hot.Snapshot(include);
        try
        {
            return MaterializePinned(hot, traces);
        }
        finally
        {
            foreach (var trace in traces)
            {
                trace.Dispose();
            }
        }
    }

    /// <summary>The hot tables from <paramref name="traces"/> (pinned by the caller until this returns).</summary>
    private HotTablesWritten MaterializePinned(HotIndex hot, IReadOnlyList<HotTrace> traces)
    {
        var ids = traces.Select(t => t.MlflowId).ToList();
        var holding = Holding(hot.Catalog, ids);
        using var lookups = _connection.Database.Connect();
        var sealedSummaries = SealedTraceQueries.LatestSummaries(lookups, [.. holding.Values.SelectMany(s => s).DistinctBy(s => s.SealSequence)], [.. holding.Keys]);

        CreateEmptyTables();
        long spans = 0;
        var buffers = new List<TraceBuffer>();
        var summaries = new List<TraceSummary>();
        var batchSpans = 0;
        foreach (var trace in traces)
        {
            var buffer = trace.Read();
            buffers.Add(buffer);
            summaries.Add(sealedSummaries.TryGetValue(trace.MlflowId, out var sealedSummary)
                ? HotSummary.Combine(SealedTraceParts.Load(lookups, holding[trace.MlflowId], trace.MlflowId, sealedSummary.Summary), buffer)
                : HotSummary.Of(buffer));
            batchSpans += buffer.Spans.Count;
            if (batchSpans >= BatchSpans)
            {
                spans += Insert(buffers, summaries, spans);
                batchSpans = 0;
            }
        }

        if (buffers.Count > 0)
        {
            spans += Insert(buffers, summaries, spans);
        }

        MergeSpanTypeNames(sealedSummaries.Values);
        return new HotTablesWritten(traces.Count, spans);
    }

    /// <summary>The hot tables, empty (a session over sealed segments only).</summary>
    public HotTablesWritten CreateEmpty()
    {
        CreateEmptyTables();
        return default;
    }

    /// <summary>Appends one batch to the hot tables and empties the lists. <c>hot_spans</c> is only ever appended to,
    /// in the writer's order, so a span's <c>rowid</c> there is <paramref name="spansBefore"/> plus its
    /// <c>span_row</c> in the batch: that is how <c>hot_attrs</c> gets the span's ids.</summary>
    private int Insert(List<TraceBuffer> buffers, List<TraceSummary> summaries, long spansBefore)
    {
        _rows.Reset(buffers, summaries, HotIndex.HotSealSequence);
        var count = _rows.SpanCount;
        _current = _rows;
        try
        {
            _connection.Execute(
                $"INSERT INTO {Prefix}traces SELECT * FROM segment_traces();" +
                $"INSERT INTO {Prefix}spans SELECT * FROM segment_spans();" +
                $"INSERT INTO {Prefix}payloads SELECT * FROM segment_payloads();" +
                // The functions are read whole: the join gets a table, not the function.
                "CREATE OR REPLACE TEMP TABLE hot_attrs_batch AS SELECT * FROM segment_attrs();");
            using var attrs = _connection.Prepare(
                $"INSERT INTO {Prefix}attrs SELECT a.key, a.value, s.trace_id, s.span_id FROM hot_attrs_batch a JOIN {Prefix}spans s ON s.rowid = a.span_row + $1");
            attrs.Bind(1, spansBefore);
            attrs.ExecuteNonQuery();
            _connection.Execute("DROP TABLE hot_attrs_batch");
        }
        finally
        {
            _current = null;
            _rows.Clear();
        }

        buffers.Clear();
        summaries.Clear();
        return count;
    }

    /// <summary>Creates the tables empty with the functions' columns (a bind with no rows reads none).</summary>
    private void CreateEmptyTables()
    {
        _connection.Execute(string.Concat(Names.Select(n => $"DROP TABLE IF EXISTS {Prefix}{n};")));
        _rows.Reset([], null, HotIndex.HotSealSequence);
        _current = _rows;
        try
        {
            _connection.Execute(
                $"CREATE TABLE {Prefix}traces AS SELECT * FROM segment_traces() LIMIT 0;" +
                $"CREATE TABLE {Prefix}spans AS SELECT * FROM segment_spans() LIMIT 0;" +
                $"CREATE TABLE {Prefix}payloads AS SELECT * FROM segment_payloads() LIMIT 0;" +
                $"CREATE TABLE {Prefix}attrs (key VARCHAR, value VARCHAR, trace_id VARCHAR, span_id VARCHAR);");
        }
        finally
        {
            _current = null;
            _rows.Clear();
        }
    }

    /// <summary>For each id with sealed parts, the segments holding them (one catalog query).</summary>
    private static Dictionary<string, List<SegmentInfo>> Holding(Catalog.SegmentCatalog catalog, IReadOnlyList<string> ids)
    {
        var parts = catalog.SealedParts(ids);
        if (parts.Count == 0)
        {
            return new(StringComparer.Ordinal);
        }

        var segments = catalog.Segments().ToDictionary(s => s.SealSequence);

        // A segment compaction replaced after the trace-index read is not listed any more: the merged one is, under
        // the same trace id, on the next snapshot. Keep the ones still committed.
        return parts.ToDictionary(
            e => e.Key,
            e => e.Value.Where(segments.ContainsKey).Select(seq => segments[seq]).ToList(),
            StringComparer.Ordinal);
    }

    /// <summary><c>span_type_names</c> of a trace with sealed parts covers both sides (the row writer saw only the hot
    /// spans).</summary>
    private void MergeSpanTypeNames(IEnumerable<SealedSummary> sealedSummaries)
    {
        using var update = _connection.Prepare(
            $"UPDATE {Prefix}traces SET span_type_names = list_sort(list_distinct(list_concat(span_type_names, $2::VARCHAR[]))) WHERE trace_id = $1");
        foreach (var sealedSummary in sealedSummaries)
        {
            update.ClearBindings();
            update.Bind(1, sealedSummary.Summary.TraceId);
            update.BindList(2, DuckDbLogicalType.Varchar, sealedSummary.SpanTypeNames);
            update.ExecuteNonQuery();
        }
    }
}
