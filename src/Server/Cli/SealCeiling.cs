using System.Diagnostics;
using TraceStore.DuckDb;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Segments;

namespace TraceStore.Server.Cli;

/// <summary>
/// The ceiling of sealing through DuckDB: the rows of one segment are first materialised as DuckDB tables (from the
/// writer's own table functions, so the same rows and types), then each table is COPYed to Parquet with the writer's
/// options. No sorting, no row production, no fsync: what DuckDB's Parquet writer alone needs for these rows, which
/// bounds what any sealer built on it can reach on this machine.
/// </summary>
internal static class SealCeiling
{
    public sealed record Result(string File, long Rows, TimeSpan Copy, long Bytes);

    /// <summary>COPYs each file's rows of <paramref name="traces"/> <paramref name="repeats"/> times; returns the fastest
    /// run of each file (the least disturbed by other work on the machine).</summary>
    public static List<Result> Measure(IReadOnlyList<TraceBuffer> traces, string folder, int repeats, Func<int, string, string, string>? copy = null)
    {
        Directory.CreateDirectory(folder);
        var rows = new SegmentRows();
        rows.Reset(traces, summaries: null, sealSequence: 1);
        using var database = DuckDbDatabase.OpenInMemory(new DuckDbDatabaseOptions
        {
            Threads = 1,
            Settings = new Dictionary<string, string> { ["preserve_insertion_order"] = "true" },
        });
        using var connection = database.Connect();
        var files = new SegmentFile[] { new SpansFile(), new PayloadsFile(), new AttrsFile(), new TracesFile() };
        for (var i = 0; i < files.Length; i++)
        {
            var (_, function, _) = SegmentFormat.WrittenFiles[i];
            connection.RegisterTableFunction(new SegmentFileFunction(function, files[i], () => rows));
            connection.Execute($"CREATE TABLE t{i} AS SELECT * FROM {function}()");
        }

        var results = new List<Result>();
        for (var i = 0; i < files.Length; i++)
        {
            var (file, _, rowGroupRows) = SegmentFormat.WrittenFiles[i];
            var path = Path.Combine(folder, file);
            var sql = copy?.Invoke(i, $"SELECT * FROM t{i}", path) ?? SegmentFormat.CopyInOrder($"SELECT * FROM t{i}", path, rowGroupRows);
            var best = TimeSpan.MaxValue;
            for (var r = 0; r < repeats; r++)
            {
                var started = Stopwatch.GetTimestamp();
                connection.Execute(sql);
                best = TimeSpan.FromTicks(Math.Min(best.Ticks, Stopwatch.GetElapsedTime(started).Ticks));
            }

            results.Add(new Result(file, files[i].RowCount(rows), best, new FileInfo(path).Length));
        }

        rows.Clear();
        return results;
    }
}
