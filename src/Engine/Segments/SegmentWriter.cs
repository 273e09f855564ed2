using TraceStore.DuckDb;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Traces;

namespace TraceStore.Engine.Segments;

/// <summary>What one sealed segment holds: the zone map the catalog keeps so reads can skip it.</summary>
public sealed record SegmentInfo(
    long SealSequence,
    string Folder,
    int FormatVersion,
    IReadOnlyList<string> Experiments,
    long Traces,
    long Spans,
    string MinTraceId,
    string MaxTraceId,
    long MinStartTimeNs,
    long MaxStartTimeNs,
    long Bytes)
{
    /// <summary>The MLflow ids of the traces in the segment, when it was just written (the catalog indexes them at
    /// commit, so get-by-id finds exactly the segments holding a trace). Null for segments read from the catalog.</summary>
    public IReadOnlyList<string>? TraceIds { get; init; }
}

/// <summary>
/// Writes sealed traces as one segment (<see cref="SegmentFormat"/>): rows are appended to staging tables in an
/// in-memory DuckDB, copied out sorted as zstd Parquet into <c>seg-N.tmp/</c>, every file is fsynced, and the folder is
/// renamed to <c>seg-N/</c>. A crash before the rename leaves a <c>.tmp</c> folder that the next open deletes (its traces
/// are still in the WAL); after the rename the segment is whole. Committing it to the catalog is the caller's next step.
/// Not thread-safe: one sealer owns it.
/// </summary>
public sealed class SegmentWriter : IDisposable
{
    private readonly string _folder;
    private readonly long _memoryLimitBytes;
    private readonly string _spillFolder;
    private DuckDbDatabase _database;
    private DuckDbConnection _connection;

    /// <param name="memoryLimitBytes">DuckDB's buffer-managed memory for staging and writing a segment; beyond it DuckDB
    /// spills to <paramref name="spillFolder"/>. Not in the memory budget: the process margin above the budget covers
    /// it (docs/ingest.md, "The memory budget").</param>
    public SegmentWriter(string segmentsFolder, long memoryLimitBytes = 24L << 20, string? spillFolder = null)
    {
        _folder = Path.GetFullPath(segmentsFolder);
        Directory.CreateDirectory(_folder);
        _memoryLimitBytes = memoryLimitBytes;
        _spillFolder = spillFolder ?? SegmentScratch.SpillFolder(_folder);
        (_database, _connection) = Open();
    }

    /// <summary>Deletes <c>.tmp</c> folders a crash left mid-write; their traces are replayed from the WAL.</summary>
    public static IReadOnlyList<string> RemoveUnfinished(string segmentsFolder)
    {
        if (!Directory.Exists(segmentsFolder))
        {
            return [];
        }

        var removed = Directory.GetDirectories(segmentsFolder, "seg-*.tmp");
        foreach (var folder in removed)
        {
            Directory.Delete(folder, recursive: true);
        }

        return removed;
    }

    /// <summary>Writes <paramref name="traces"/> as segment <paramref name="sealSequence"/>, each with its summary in
    /// <paramref name="summaries"/> (same order), or the summary of its own spans when null.</summary>
    /// <remarks>When DuckDB runs out of its memory limit the writer starts over with a new database before the error
    /// reaches the caller: after an out-of-memory error DuckDB keeps most of its limit in use (measured: 15.8 of 16 MiB
    /// pinned, so even a 7-span retry failed), and the caller's smaller retry needs it back.</remarks>
    public SegmentInfo Write(long sealSequence, IReadOnlyList<TraceBuffer> traces, IReadOnlyList<TraceSummary>? summaries = null)
    {
        try
        {
            return WriteOnce(sealSequence, traces, summaries);
        }
        catch (DuckDbException e) when (e.ErrorType == DuckDbErrorType.OutOfMemory)
        {
            _connection.Dispose();
            _database.Dispose();
            (_database, _connection) = Open();
            throw;
        }
    }

    private SegmentInfo WriteOnce(long sealSequence, IReadOnlyList<TraceBuffer> traces, IReadOnlyList<TraceSummary>? summaries)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(traces.Count, nameof(traces));
        if (summaries is not null && summaries.Count != traces.Count)
        {
            throw new ArgumentException($"{summaries.Count} summaries for {traces.Count} traces.", nameof(summaries));
        }

        summaries ??= [.. traces.Select(TraceSummaryBuilder.Build)];
        // Dropped and created again, not DELETEd: in an in-memory database a DELETE keeps the row groups (measured: the
        // writer's native allocation grew to 85 MiB over a few seals with DELETE, 26-36 MiB with DROP).
        _connection.Execute(SegmentFormat.DropStaging);
        _connection.Execute(SegmentFormat.StagingDdl);
        long spans;
        using (var rows = new SpanRowWriter(_connection))
        using (var traceRows = new TraceRowWriter(_connection))
        {
            for (var i = 0; i < traces.Count; i++)
            {
                rows.Append(traces[i]);
                traceRows.Append(traces[i], summaries[i], sealSequence);
            }

            rows.Close();
            traceRows.Close();
            spans = rows.Spans;
        }

        var final = Path.Combine(_folder, SegmentFormat.FolderName(sealSequence));
        var temporary = final + ".tmp";
        if (Directory.Exists(temporary))
        {
            Directory.Delete(temporary, recursive: true);
        }

        Directory.CreateDirectory(temporary);
        _connection.Execute(SegmentFormat.CopySpans(Path.Combine(temporary, SegmentFormat.SpansFile)));
        _connection.Execute(SegmentFormat.CopyPayloads(Path.Combine(temporary, SegmentFormat.PayloadsFile)));
        _connection.Execute(SegmentFormat.CopyAttrs(Path.Combine(temporary, SegmentFormat.AttrsFile)));
        _connection.Execute(SegmentFormat.CopyTraces(Path.Combine(temporary, SegmentFormat.TracesFile)));
        var bytes = SegmentScratch.SyncFiles(temporary);
        Directory.Move(temporary, final);
        return Describe(sealSequence, final, traces, summaries, spans, bytes);
    }

    private (DuckDbDatabase Database, DuckDbConnection Connection) Open()
    {
        var database = SegmentScratch.OpenDatabase(_memoryLimitBytes, _spillFolder);
        var connection = database.Connect();
        connection.Execute(SegmentFormat.StagingDdl);
        return (database, connection);
    }

    public void Dispose()
    {
        _connection.Dispose();
        _database.Dispose();
    }

    /// <summary>The zone map. The start-time range covers the summaries' request times too: a trace sealed in parts
    /// has its latest summary here while its earliest span may be in an earlier segment, and a time-range search must
    /// not prune the segment holding that summary.</summary>
    private static SegmentInfo Describe(long sealSequence, string folder, IReadOnlyList<TraceBuffer> traces, IReadOnlyList<TraceSummary> summaries, long spans, long bytes)
    {
        Span<byte> id = stackalloc byte[35];
        string? minId = null, maxId = null;
        var ids = new List<string>(traces.Count);
        long minStart = long.MaxValue, maxStart = long.MinValue;
        var experiments = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var trace in traces)
        {
            experiments.Add(trace.Key.ExperimentId);
            SpanRowWriter.FormatTraceId(trace.Key.TraceId, id);
            var text = System.Text.Encoding.ASCII.GetString(id);
            ids.Add(text);
            minId = minId is null || string.CompareOrdinal(text, minId) < 0 ? text : minId;
            maxId = maxId is null || string.CompareOrdinal(text, maxId) > 0 ? text : maxId;
            foreach (ref readonly var span in trace.Spans.AsSpan())
            {
                minStart = Math.Min(minStart, (long)span.StartTimeUnixNano);
                maxStart = Math.Max(maxStart, (long)span.StartTimeUnixNano);
            }
        }

        foreach (var summary in summaries)
        {
            minStart = Math.Min(minStart, summary.RequestTimeMs * 1_000_000);
        }

        return new SegmentInfo(sealSequence, folder, SegmentFormat.Version, [.. experiments], traces.Count, spans, minId!, maxId!, minStart, maxStart, bytes) { TraceIds = ids };
    }
}
