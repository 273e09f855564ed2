using TraceStore.DuckDb;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Segments;

namespace TraceStore.Engine.Hot;

/// <summary>What <see cref="HotTables.Materialize"/> wrote: hot traces (one summary row each) and their spans.</summary>
public readonly record struct HotTablesWritten(int Traces, long Spans);

/// <summary>
/// Puts a hot snapshot into a DuckDB database as tables with exactly the segment files' columns, so one SQL query can
/// read hot and sealed data together (the query session's views union them). The tables are the segment writer's
/// staging tables (<see cref="SegmentFormat.StagingDdl"/>), filled by its own appenders, then renamed with the
/// <see cref="Prefix"/>: <c>hot_traces</c>, <c>hot_spans</c>, <c>hot_payloads</c>, <c>hot_attrs</c>. The only
/// coupling to the layout is that the staging tables are named like the files (<c>spans.parquet</c> → <c>spans</c>):
/// columns follow whatever the writer writes. (Why tables and not a table function: docs/reads.md.)
/// <para>Rows: every unsealed span of each trace once (a trace seen in several hot parts is merged); one summary row
/// per trace with <c>seal_sequence</c> = <see cref="HotIndex.HotSealSequence"/>, covering its sealed parts too
/// (<see cref="HotSummary.Combine"/>). Spans that sealed parts also hold (retries across a seal, or a trace seen
/// pending and just committed) are in both places: readers dedupe by span id.</para>
/// <para>Memory: DuckDB holds a copy of the hot data in the snapshot; on the C# side one trace is copied at a time.</para>
/// </summary>
internal static class HotTables
{
    public const string Prefix = "hot_";

    /// <summary>The tables, by the names of the segment files they mirror.</summary>
    public static IReadOnlyList<string> Names { get; } =
        [.. new[] { SegmentFormat.TracesFile, SegmentFormat.SpansFile, SegmentFormat.PayloadsFile, SegmentFormat.AttrsFile }.Select(Path.GetFileNameWithoutExtension).Select(n => n!)];

    /// <summary>
    /// Replaces the hot tables in <paramref name="connection"/>'s database with a snapshot of <paramref name="hot"/>
    /// (traces whose key passes <paramref name="include"/>). Reads the catalog after the snapshot (for the sealed
    /// summaries of traces that have sealed parts). The database must not hold tables or views named like the segment
    /// files while this runs (the staging tables are created under those names, then renamed).
    /// </summary>
    public static HotTablesWritten Materialize(HotIndex hot, DuckDbConnection connection, Func<TraceKey, bool>? include = null)
    {
        var traces = hot.Snapshot(include);
        var ids = traces.Select(t => t.MlflowId).ToList();
        var holding = Holding(hot.Catalog, ids);
        using var lookups = connection.Database.Connect();
        var sealedSummaries = SealedTraceQueries.LatestSummaries(lookups, [.. holding.Values.SelectMany(s => s).DistinctBy(s => s.SealSequence)], [.. holding.Keys]);

        CreateStaging(connection);
        long spans;
        using (var rows = new SpanRowWriter(connection))
        using (var summaries = new TraceRowWriter(connection))
        {
            foreach (var trace in traces)
            {
                var buffer = trace.Read();
                var summary = sealedSummaries.TryGetValue(trace.MlflowId, out var sealedSummary)
                    ? HotSummary.Combine(sealedSummary.Summary, buffer, SealedTraceQueries.SpanIdsAmong(lookups, holding[trace.MlflowId], trace.MlflowId, SpanIds(buffer)))
                    : HotSummary.Of(buffer);
                rows.Append(buffer);
                summaries.Append(buffer, summary, HotIndex.HotSealSequence);
            }

            rows.Close();
            summaries.Close();
            spans = rows.Spans;
        }

        RenameStaging(connection);
        MergeSpanTypeNames(connection, sealedSummaries.Values);
        return new HotTablesWritten(traces.Count, spans);
    }

    /// <summary>The hot tables, empty (a session over sealed segments only).</summary>
    public static HotTablesWritten CreateEmpty(DuckDbConnection connection)
    {
        CreateStaging(connection);
        RenameStaging(connection);
        return default;
    }

    private static void CreateStaging(DuckDbConnection connection)
    {
        connection.Execute(SegmentFormat.DropStaging + string.Concat(Names.Select(n => $"DROP TABLE IF EXISTS {Prefix}{n};")));
        connection.Execute(SegmentFormat.StagingDdl);
    }

    private static void RenameStaging(DuckDbConnection connection) =>
        connection.Execute(string.Concat(Names.Select(n => $"ALTER TABLE {n} RENAME TO {Prefix}{n};")));

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

    private static List<Protocol.Model.SpanId> SpanIds(TraceBuffer buffer)
    {
        var ids = new List<Protocol.Model.SpanId>(buffer.Spans.Count);
        foreach (ref readonly var span in buffer.Spans.AsSpan())
        {
            ids.Add(span.SpanId);
        }

        return ids;
    }

    /// <summary><c>span_type_names</c> of a trace with sealed parts covers both sides (the row writer saw only the hot
    /// spans).</summary>
    private static void MergeSpanTypeNames(DuckDbConnection connection, IEnumerable<SealedSummary> sealedSummaries)
    {
        using var update = connection.Prepare(
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
