using System.Diagnostics;
using TraceStore.DuckDb;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Segments;

namespace TraceStore.Server.Cli;

/// <summary>
/// The ceiling of sealing through DuckDB: the rows of one segment are first materialised as DuckDB tables (from the
/// writer's own table functions, so the same rows and types), then each table is COPYed to Parquet with the writer's
/// options or others. No sorting, no row production, no fsync: what DuckDB's Parquet writer alone needs for these rows,
/// which bounds what any sealer built on it can reach on this machine.
/// </summary>
internal static class SealCeiling
{
    public sealed record Result(string File, long Rows, TimeSpan Copy, long Bytes);

    /// <summary>How the COPYs run: DuckDB's threads per COPY (a prebuilt table is a parallel source, so with 2 threads
    /// DuckDB encodes row groups of one file on both), and files written at once, each on its own connection, the way
    /// the writer does (<see cref="SegmentWriterOptions.Threads"/>).</summary>
    public sealed record Parallelism(int DuckDbThreads, int FilesAtOnce)
    {
        public static Parallelism Serial { get; } = new(1, 1);
    }

    /// <summary>COPYs each file's rows of <paramref name="traces"/> <paramref name="repeats"/> times; returns the fastest
    /// run of each file (the least disturbed by other work on the machine), and the fastest wall time of all four
    /// files (with <see cref="Parallelism.FilesAtOnce"/> above 1, less than their sum). <paramref name="copy"/> makes
    /// the COPY statement of file i from its SELECT and path (null: the writer's).</summary>
    public static (List<Result> Files, TimeSpan Wall) Measure(IReadOnlyList<TraceBuffer> traces, string folder, int repeats, Func<int, string, string, string>? copy = null, Parallelism? parallelism = null)
    {
        parallelism ??= Parallelism.Serial;
        Directory.CreateDirectory(folder);
        var rows = new SegmentRows();
        rows.Reset(traces, summaries: null, sealSequence: 1);
        using var database = DuckDbDatabase.OpenInMemory(new DuckDbDatabaseOptions
        {
            Threads = parallelism.DuckDbThreads,
            Settings = new Dictionary<string, string> { ["preserve_insertion_order"] = "true" },
        });
        var connections = Enumerable.Range(0, parallelism.FilesAtOnce).Select(_ => database.Connect()).ToArray();
        try
        {
            var files = new SegmentFile[] { new SpansFile(), new PayloadsFile(), new AttrsFile(), new TracesFile() };
            for (var i = 0; i < files.Length; i++)
            {
                var (_, function, _) = SegmentFormat.WrittenFiles[i];
                connections[0].RegisterTableFunction(new SegmentFileFunction(function, files[i], () => rows));
                connections[0].Execute($"CREATE TABLE t{i} AS SELECT * FROM {function}()");
            }

            var statements = Enumerable.Range(0, files.Length).Select(i =>
            {
                var (file, _, rowGroupRows) = SegmentFormat.WrittenFiles[i];
                var path = Path.Combine(folder, file);
                return copy?.Invoke(i, $"SELECT * FROM t{i}", path) ?? SegmentFormat.CopyInOrder($"SELECT * FROM t{i}", path, rowGroupRows);
            }).ToArray();
            var best = Enumerable.Repeat(TimeSpan.MaxValue, files.Length).ToArray();
            var bestWall = TimeSpan.MaxValue;
            for (var r = 0; r < repeats; r++)
            {
                var elapsed = new TimeSpan[files.Length];
                var started = Stopwatch.GetTimestamp();
                var next = -1;
                var workers = connections.Select(connection => Task.Factory.StartNew(
                    () =>
                    {
                        for (var i = Interlocked.Increment(ref next); i < files.Length; i = Interlocked.Increment(ref next))
                        {
                            var fileStarted = Stopwatch.GetTimestamp();
                            connection.Execute(statements[i]);
                            elapsed[i] = Stopwatch.GetElapsedTime(fileStarted);
                        }
                    },
                    CancellationToken.None,
                    TaskCreationOptions.LongRunning,
                    TaskScheduler.Default)).ToArray();
                Task.WhenAll(workers).GetAwaiter().GetResult();
                bestWall = TimeSpan.FromTicks(Math.Min(bestWall.Ticks, Stopwatch.GetElapsedTime(started).Ticks));
                for (var i = 0; i < files.Length; i++)
                {
                    best[i] = TimeSpan.FromTicks(Math.Min(best[i].Ticks, elapsed[i].Ticks));
                }
            }

            var results = Enumerable.Range(0, files.Length)
                .Select(i => new Result(SegmentFormat.WrittenFiles[i].File, files[i].RowCount(rows), best[i], new FileInfo(Path.Combine(folder, SegmentFormat.WrittenFiles[i].File)).Length))
                .ToList();
            return (results, bestWall);
        }
        finally
        {
            foreach (var connection in connections)
            {
                connection.Dispose();
            }

            rows.Clear();
        }
    }
}
