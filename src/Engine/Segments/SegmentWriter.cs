using System.Diagnostics;
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

/// <summary>Where the time of <see cref="SegmentWriter.Write"/> went: putting the spans in order before the COPYs (and
/// building the trace summaries the caller did not give), each file's COPY to Parquet (wall time of that COPY,
/// including the attrs and traces orders, which are computed when their COPY binds; files may be written at once), the
/// fsyncs and rename, and the wall time of the COPYs together. For benchmarks and profiling.</summary>
public sealed record SegmentWriteProfile(TimeSpan Order, TimeSpan Spans, TimeSpan Payloads, TimeSpan Attrs, TimeSpan Traces, TimeSpan Sync, TimeSpan CopyWall)
{
    public static SegmentWriteProfile Zero { get; } = new(default, default, default, default, default, default, default);

    /// <summary>Of the COPYs' time, what went into producing the rows (our table functions); the rest is DuckDB's
    /// Parquet writer (encoding, dictionaries, statistics, compression, writes).</summary>
    public TimeSpan Produce { get; init; }

    /// <summary>Building the text index (<see cref="TextIndexBuilder"/>) after the COPYs: reading the spans and
    /// payloads back, collecting trigrams, writing its two files. Zero when the index is off.</summary>
    public TimeSpan Text { get; init; }

    /// <summary>Wall time: ordering, the COPYs, the text index and the fsyncs.</summary>
    public TimeSpan Total => Order + CopyWall + Text + Sync;

    public SegmentWriteProfile Plus(SegmentWriteProfile other) => new(
        Order + other.Order, Spans + other.Spans, Payloads + other.Payloads, Attrs + other.Attrs, Traces + other.Traces, Sync + other.Sync, CopyWall + other.CopyWall)
    {
        Produce = Produce + other.Produce,
        Text = Text + other.Text,
    };

    public SegmentWriteProfile Minus(SegmentWriteProfile other) => new(
        Order - other.Order, Spans - other.Spans, Payloads - other.Payloads, Attrs - other.Attrs, Traces - other.Traces, Sync - other.Sync, CopyWall - other.CopyWall)
    {
        Produce = Produce - other.Produce,
        Text = Text - other.Text,
    };
}

/// <summary>
/// Writes sealed traces as one segment (<see cref="SegmentFormat"/>): the rows of each file are put in the file's order in
/// C# (<see cref="SegmentRows"/>) and streamed by a table function into a COPY to zstd Parquet in <c>seg-N.tmp/</c>, every
/// file is fsynced, and the folder is renamed to <c>seg-N/</c>. DuckDB neither stores nor sorts the rows, so its memory
/// stays at about one row group per file being written. A crash before the rename leaves a <c>.tmp</c> folder that the
/// next open deletes (its traces are still in the WAL); after the rename the segment is whole. Committing it to the
/// catalog is the caller's next step. Not thread-safe: one sealer owns it.
/// </summary>
public sealed class SegmentWriter : IDisposable
{
    private readonly string _folder;
    private readonly SegmentWriterOptions _settings;
    private readonly string _spillFolder;
    private readonly SegmentRows _rows = new();
    private readonly SegmentFileFunction[] _functions;
    private readonly TextIndexBuilder? _textIndex;
    private DuckDbDatabase _database;
    private DuckDbConnection[] _connections;
    private SegmentRows? _writing;

    public SegmentWriter(string segmentsFolder, SegmentWriterOptions? options = null, string? spillFolder = null)
    {
        _settings = (options ?? new SegmentWriterOptions()).Validate();
        _folder = Path.GetFullPath(segmentsFolder);
        _spillFolder = spillFolder ?? SegmentScratch.SpillFolder(_folder);
        Directory.CreateDirectory(_folder);
        var files = new SegmentFile[] { new SpansFile(), new PayloadsFile(), new AttrsFile(), new TracesFile() };
        _functions = [.. files.Select((file, i) => new SegmentFileFunction(SegmentFormat.WrittenFiles[i].Function, file, () => Volatile.Read(ref _writing)))];
        _textIndex = _settings.TextIndex ? new TextIndexBuilder(_settings.TextIndexBlockSpans) : null;
        (_database, _connections) = Open();
    }

    /// <summary>Where the time of every successful <see cref="Write"/> so far went, summed.</summary>
    public SegmentWriteProfile Profile { get; private set; } = SegmentWriteProfile.Zero;

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
            _rows.Clear();
            CloseDatabase();
            (_database, _connections) = Open();
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

        var started = Stopwatch.GetTimestamp();
        var final = Path.Combine(_folder, SegmentFormat.FolderName(sealSequence));
        var temporary = final + ".tmp";
        if (Directory.Exists(temporary))
        {
            Directory.Delete(temporary, recursive: true);
        }

        Directory.CreateDirectory(temporary);
        _rows.Reset(traces, summaries, sealSequence);
        var ordered = Stopwatch.GetTimestamp();
        var copied = new long[SegmentFormat.WrittenFiles.Count];
        var fillBefore = _functions.Sum(f => f.FillTicks);

        Volatile.Write(ref _writing, _rows);
        try
        {
            CopyFiles(temporary, copied);
        }
        finally
        {
            Volatile.Write(ref _writing, null);
        }

        var copiedAt = Stopwatch.GetTimestamp();
        _textIndex?.Build(_connections[0], temporary);
        var indexed = Stopwatch.GetTimestamp();
        var bytes = SegmentScratch.SyncFiles(temporary);
        Directory.Move(temporary, final);
        var synced = Stopwatch.GetTimestamp();
        var info = Describe(sealSequence, final, bytes);
        _rows.Clear();
        Profile = Profile.Plus(new SegmentWriteProfile(
            Stopwatch.GetElapsedTime(started, ordered),
            TimeSpan.FromTicks(copied[0]),
            TimeSpan.FromTicks(copied[1]),
            TimeSpan.FromTicks(copied[2]),
            TimeSpan.FromTicks(copied[3]),
            Stopwatch.GetElapsedTime(indexed, synced),
            Stopwatch.GetElapsedTime(ordered, copiedAt))
        {
            Produce = Stopwatch.GetElapsedTime(0, _functions.Sum(f => f.FillTicks) - fillBefore),
            Text = Stopwatch.GetElapsedTime(copiedAt, indexed),
        });
        return info;
    }

    public void Dispose() => CloseDatabase();

    private (DuckDbDatabase Database, DuckDbConnection[] Connections) Open()
    {
        var database = SegmentScratch.OpenDatabase(_settings.MemoryLimitBytes, _spillFolder);
        var connections = Enumerable.Range(0, _settings.Threads).Select(_ => database.Connect()).ToArray();
        foreach (var function in _functions)
        {
            connections[0].RegisterTableFunction(function);
        }

        return (database, connections);
    }

    private void CloseDatabase()
    {
        foreach (var connection in _connections)
        {
            connection.Dispose();
        }

        _database.Dispose();
    }

    /// <summary>COPYs each file of the segment; with several connections, files are written at once, each worker taking
    /// the next file in the list (the large ones come first). <paramref name="elapsed"/> gets each file's time (ticks).</summary>
    private void CopyFiles(string temporary, long[] elapsed)
    {
        var files = SegmentFormat.WrittenFiles;
        void Copy(DuckDbConnection connection, int i)
        {
            var started = Stopwatch.GetTimestamp();
            var (file, function, rowGroupRows) = files[i];
            connection.Execute(SegmentFormat.CopyInOrder($"SELECT * FROM {function}()", Path.Combine(temporary, file), rowGroupRows, _settings.ZstdLevelOf(file), _settings.BloomFilters));
            elapsed[i] = Stopwatch.GetElapsedTime(started).Ticks;
        }

        if (_connections.Length == 1)
        {
            for (var i = 0; i < files.Count; i++)
            {
                Copy(_connections[0], i);
            }

            return;
        }

        var next = -1;
        var workers = _connections.Select(connection => Task.Factory.StartNew(
            () =>
            {
                for (var i = Interlocked.Increment(ref next); i < files.Count; i = Interlocked.Increment(ref next))
                {
                    Copy(connection, i);
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default)).ToArray();
        // The first failure as itself (a DuckDbException or IOException the sealer handles), not wrapped.
        Task.WhenAll(workers).GetAwaiter().GetResult();
    }

    /// <summary>The zone map. The start-time range covers the summaries' request times too: a trace sealed in parts
    /// has its latest summary here while its earliest span may be in an earlier segment, and a time-range search must
    /// not prune the segment holding that summary.</summary>
    private SegmentInfo Describe(long sealSequence, string folder, long bytes)
    {
        var traces = _rows.Traces;
        var ids = new List<string>(traces.Count);
        long minStart = long.MaxValue, maxStart = long.MinValue;
        var experiments = new SortedSet<string>(StringComparer.Ordinal);
        for (var t = 0; t < traces.Count; t++)
        {
            experiments.Add(traces[t].Key.ExperimentId);
            ids.Add(System.Text.Encoding.ASCII.GetString(_rows.TraceId(t)));
            foreach (ref readonly var span in traces[t].Spans.AsSpan())
            {
                minStart = Math.Min(minStart, (long)span.StartTimeUnixNano);
                maxStart = Math.Max(maxStart, (long)span.StartTimeUnixNano);
            }
        }

        for (var t = 0; t < traces.Count; t++)
        {
            minStart = Math.Min(minStart, _rows.Summary(t).RequestTimeMs * 1_000_000);
        }

        var byId = _rows.Spans;
        var minId = System.Text.Encoding.ASCII.GetString(_rows.TraceId(byId[0].Trace));
        var maxId = System.Text.Encoding.ASCII.GetString(_rows.TraceId(byId[^1].Trace));
        return new SegmentInfo(sealSequence, folder, SegmentFormat.Version, [.. experiments], traces.Count, _rows.SpanCount, minId, maxId, minStart, maxStart, bytes) { TraceIds = ids };
    }
}
