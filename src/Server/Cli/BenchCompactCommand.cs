using System.CommandLine;
using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using TraceStore.DuckDb;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Compaction;
using TraceStore.Engine.Segments;
using TraceStore.OtlpOracle;

namespace TraceStore.Server.Cli;

/// <summary>
/// <c>tracestore bench compact</c>: compaction and retention measured, in three parts.
/// <list type="number">
/// <item>Merges: for each payload kind and <see cref="MergeConfigurations"/> entry, segments are sealed (not timed,
/// <see cref="SegmentPile"/>), then one <see cref="SegmentCompactor.Merge"/> of all of them is timed: input spans/s,
/// input MB/s (Parquet bytes), output/input bytes, peak resident memory and DuckDB spill during the merge
/// (<see cref="MergeMonitor"/>). Configurations take turns round by round.</item>
/// <item>Retention over many segments, through the store's own maintenance (<see cref="StoreMaintenance"/>, the
/// background loop's code, run on this thread): a TTL whose cutoff is the median request time (half the traces, in
/// every segment, since each benchmark request spans the same times), then a byte cap of half the experiment's bytes;
/// each timed for marking (<c>EnforceRetentionNow</c>) and for the compaction pass that rewrites what they left.</item>
/// <item>Effect on ingest: <c>bench ingest</c>'s measurement (<see cref="BenchIngestCommand.Measure"/>) with background
/// compaction off and on (every second), taking turns for several rounds; medians and their ratio.</item>
/// </list>
/// </summary>
internal static class BenchCompactCommand
{
    /// <summary>One merge measured: how many segments of how many trace-buffer bytes each, merged with how much DuckDB
    /// memory.</summary>
    /// <param name="TagEvery">Above 0: before the merge, a tag is set (in the overlay) on every this-many-th trace, so
    /// the merge folds tag changes: the path where the traces file is still merged by SQL (a window and a sort).</param>
    internal sealed record MergeConfiguration(string Name, int Segments, long SegmentBufferBytes, long MemoryLimitBytes, int TagEvery = 0);

    internal static IReadOnlyList<MergeConfiguration> MergeConfigurations { get; } =
    [
        new("8 x 8 MiB buffers, 64 MiB DuckDB", 8, 8L << 20, 64L << 20),
        new("4 x 64 MiB buffers, 64 MiB DuckDB", 4, 64L << 20, 64L << 20),
        new("12 x 64 MiB buffers, 64 MiB DuckDB", 12, 64L << 20, 64L << 20),
        new("12 x 64 MiB buffers, 256 MiB DuckDB", 12, 64L << 20, 256L << 20),
        new("12 x 64 MiB buffers, 64 MiB DuckDB, tags on every 10th trace", 12, 64L << 20, 64L << 20, TagEvery: 10),
        new("12 x 64 MiB buffers, 256 MiB DuckDB, tags on every 10th trace", 12, 64L << 20, 256L << 20, TagEvery: 10),

        // Tiny segments (one request each, what a store with little traffic seals): reading memory grows with the
        // number of inputs, which CompactionOptions.MaxMergeInputs bounds.
        new("32 x 1 request, 64 MiB DuckDB", 32, 1, 64L << 20),
        new("256 x 1 request, 64 MiB DuckDB", 256, 1, 64L << 20),
    ];

    public static Command Create()
    {
        var rounds = new Option<int>("--rounds") { Description = "Merges of each configuration and payload (medians are printed).", DefaultValueFactory = _ => 2 };
        var retentionSegments = new Option<int>("--retention-segments") { Description = "Segments (8 MiB of buffers each) that retention runs over; 0 skips retention.", DefaultValueFactory = _ => 32 };
        var ingestSeconds = new Option<double>("--ingest-seconds") { Description = "Measuring window of each ingest run (compaction off, then on); 0 skips the ingest part.", DefaultValueFactory = _ => 15 };
        var ingestPaced = new Option<double>("--ingest-paced") { Description = "After the bulk ingest runs, paced runs offering this fraction of the bulk runs' median sealed spans/s (compaction off); 0 skips them.", DefaultValueFactory = _ => 0.5 };
        var pacedSeconds = new Option<double>("--ingest-paced-seconds") { Description = "Measuring window of each paced run: longer than the sealer's 30 s segment delay, so that segments are sealed (and merged) below capacity.", DefaultValueFactory = _ => 75 };
        var ingestRounds = new Option<int>("--ingest-rounds") { Description = "Ingest runs of each setting, taking turns.", DefaultValueFactory = _ => 3 };
        var only = new Option<string?>("--merges") { Description = "Only the merge configurations whose name contains this text (default: all)." };
        var kinds = new Option<string>("--payloads") { Description = "Payload kinds, comma-separated (small, genai, genai-text).", DefaultValueFactory = _ => "small,genai" };
        var format = new Option<string>("--format") { Description = "Output format.", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "json");
        var folder = new Option<DirectoryInfo?>("--data") { Description = "Folder to write in (default: a new folder under the system temp folder, deleted after)." };
        var command = new Command("compact", "Measure compaction (merge spans/s, MB/s, peak memory, spill), retention (TTL and byte cap over many segments) and compaction's effect on ingest.")
        {
            rounds, only, retentionSegments, ingestSeconds, ingestRounds, ingestPaced, pacedSeconds, kinds, format, folder,
        };
        command.SetAction(async (result, cancellation) =>
        {
            var root = result.GetValue(folder)?.FullName ?? Path.Combine(Path.GetTempPath(), $"tracestore-bench-compact-{Guid.NewGuid():N}");
            Directory.CreateDirectory(root);
            var output = result.InvocationConfiguration.Output;
            var json = result.GetValue(format) == "json";

            // With JSON, stdout holds only the JSON document; progress lines go to stderr.
            var progress = json ? result.InvocationConfiguration.Error : output;
            var payloads = result.GetValue(kinds)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            try
            {
                progress.WriteLine($"bench compact: {Environment.ProcessorCount} cores, load average {BenchSealCommand.LoadAverage()}");
                var configurations = MergeConfigurations.Where(c => result.GetValue(only) is not { } text || c.Name.Contains(text, StringComparison.Ordinal)).ToList();
                var merges = Merges(Path.Combine(root, "merge"), payloads, configurations, Math.Max(1, result.GetValue(rounds)), progress);
                var retention = result.GetValue(retentionSegments) > 0 ? Retention(Path.Combine(root, "retention"), result.GetValue(retentionSegments), progress) : null;
                var ingest = result.GetValue(ingestSeconds) > 0
                    ? await BenchCompactIngest.Run(Path.Combine(root, "ingest"), payloads, TimeSpan.FromSeconds(result.GetValue(ingestSeconds)), Math.Max(1, result.GetValue(ingestRounds)), result.GetValue(ingestPaced), TimeSpan.FromSeconds(result.GetValue(pacedSeconds)), progress).ConfigureAwait(false)
                    : null;
                progress.WriteLine($"load average at the end {BenchSealCommand.LoadAverage()}");
                Write(output, json, ("merge", merges), ("retention", retention), ("ingest", ingest));
            }
            finally
            {
                if (result.GetValue(folder) is null)
                {
                    Directory.Delete(root, recursive: true);
                }
            }

            return 0;
        });
        return command;
    }

    private static void Write(TextWriter output, bool json, params (string Name, BenchTable? Table)[] tables)
    {
        var present = tables.Where(t => t.Table is not null).ToList();
        if (json)
        {
            var parts = present.Select(t =>
            {
                using var text = new StringWriter();
                t.Table!.Write(text, "json");
                return $"\"{t.Name}\": {text.ToString().Trim()}";
            });
            output.WriteLine("{" + string.Join(", ", parts) + "}");
            return;
        }

        foreach (var (name, table) in present)
        {
            output.WriteLine();
            output.WriteLine(name + ":");
            table!.Write(output, "table");
        }
    }

    /// <summary>One merge's figures, or why it failed (<see cref="Failure"/>: the first line of DuckDB's error).</summary>
    private sealed record MergeRun(long InputSpans, long InputBytes, long OutputBytes, double Seconds, double CpuSeconds, long RssBefore, long PeakRss, long PeakSpill, string? Failure = null);

    private static BenchTable Merges(string root, IReadOnlyList<string> payloads, List<MergeConfiguration> configurations, int rounds, TextWriter progress)
    {
        var table = new BenchTable(
            ("payload", "payload", -10),
            ("configuration", "configuration", -36),
            ("runs", "runs", 5),
            ("input spans", "input_spans", 12),
            ("input MB", "input_megabytes", 9),
            ("spans/s", "merge_spans_per_second", 10),
            ("in MB/s", "merge_input_megabytes_per_second", 8),
            ("out/in", "output_to_input_bytes", 7),
            ("s", "merge_seconds", 7),
            ("CPU s", "merge_cpu_seconds", 7),
            ("RSS MiB", "rss_before_mib", 8),
            ("peak MiB", "peak_rss_mib", 9),
            ("spill MiB", "peak_spill_mib", 10),
            ("failed", "failed_runs", 7));
        foreach (var kind in payloads)
        {
            var requests = new BenchRequests(kind, spansPerTrace: 10);
            var runs = configurations.Select(_ => new List<MergeRun>()).ToArray();
            for (var round = 0; round < rounds; round++)
            {
                for (var c = 0; c < configurations.Count; c++)
                {
                    var folder = Path.Combine(root, $"{kind}-{c}-{round}");
                    var run = Merge(folder, requests, configurations[c]);
                    runs[c].Add(run);
                    Directory.Delete(folder, recursive: true);
                    progress.WriteLine($"  merge {kind} / {configurations[c].Name}: {run.InputBytes / 1e6:F1} MB in {run.Seconds:F1} s, peak RSS {run.PeakRss / 1048576.0:F0} MiB, spill {run.PeakSpill / 1048576.0:F0} MiB{(run.Failure is null ? "" : ", FAILED: " + run.Failure)}, load average {BenchSealCommand.LoadAverage()}");
                }
            }

            for (var c = 0; c < configurations.Count; c++)
            {
                var failed = runs[c].Count(m => m.Failure is not null);
                var ok = runs[c].Where(m => m.Failure is null).ToList();

                // Sizes and memory over every run (a failed one shows where it failed); rates over completed ones only
                // (0 when none completed).
                double Median(Func<MergeRun, double> f) => BenchIngestCommand.Median(runs[c].Select(f));
                double Rate(Func<MergeRun, double> f) => ok.Count == 0 ? 0 : BenchIngestCommand.Median(ok.Select(f));
                table.Add(
                    kind,
                    configurations[c].Name,
                    runs[c].Count,
                    (long)Median(m => m.InputSpans),
                    Median(m => m.InputBytes / 1e6),
                    Rate(m => m.InputSpans / m.Seconds),
                    Rate(m => m.InputBytes / 1e6 / m.Seconds),
                    Rate(m => (double)m.OutputBytes / m.InputBytes),
                    Rate(m => m.Seconds),
                    Median(m => m.CpuSeconds),
                    Median(m => m.RssBefore / 1048576.0),
                    Median(m => m.PeakRss / 1048576.0),
                    Median(m => m.PeakSpill / 1048576.0),
                    failed);
            }
        }

        return table;
    }

    private static MergeRun Merge(string folder, BenchRequests requests, MergeConfiguration configuration)
    {
        using var catalog = SegmentPile.Build(folder, requests, configuration.Segments, configuration.SegmentBufferBytes);
        var inputs = catalog.Segments();
        if (configuration.TagEvery > 0)
        {
            foreach (var traceId in TraceIds(catalog).Where((_, i) => i % configuration.TagEvery == 0))
            {
                catalog.Overlay.SetTag(traceId, "bench.reviewed", "true");
            }
        }

        using var compactor = new SegmentCompactor(catalog, configuration.MemoryLimitBytes);
        GC.Collect();
        var monitor = new MergeMonitor(SegmentScratch.SpillFolder(catalog.SegmentsFolder));
        var started = Stopwatch.GetTimestamp();
        SegmentInfo? merged = null;
        string? failure = null;
        try
        {
            merged = compactor.Merge(inputs);
        }
        catch (DuckDbException e)
        {
            failure = e.Message.Split('\n')[0];
        }
        finally
        {
            monitor.Dispose();
        }

        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        if (failure is not null)
        {
            return new MergeRun(inputs.Sum(s => s.Spans), inputs.Sum(s => s.Bytes), 0, seconds, monitor.Cpu.TotalSeconds, monitor.RssBeforeBytes, monitor.PeakRssBytes, monitor.PeakSpillBytes, failure);
        }

        if (merged is null || merged.Spans != inputs.Sum(s => s.Spans))
        {
            throw new InvalidOperationException($"The merge kept {merged?.Spans ?? 0} of {inputs.Sum(s => s.Spans)} spans.");
        }

        return new MergeRun(inputs.Sum(s => s.Spans), inputs.Sum(s => s.Bytes), merged.Bytes, seconds, monitor.Cpu.TotalSeconds, monitor.RssBeforeBytes, monitor.PeakRssBytes, monitor.PeakSpillBytes);
    }

    /// <summary>TTL then byte cap, each on its own pile of <paramref name="segments"/> small-payload segments.</summary>
    private static BenchTable Retention(string root, int segments, TextWriter progress)
    {
        var table = new BenchTable(
            ("policy", "policy", -22),
            ("segments", "segments", 9),
            ("traces", "traces", 9),
            ("deleted", "traces_deleted", 9),
            ("enforce s", "enforce_seconds", 10),
            ("traces/s", "enforce_traces_per_second", 10),
            ("compact s", "compact_after_seconds", 10),
            ("rewritten", "segments_rewritten", 10),
            ("merged", "segments_merged", 8),
            ("MB before", "megabytes_before", 10),
            ("MB after", "megabytes_after", 9),
            ("peak MiB", "peak_rss_mib", 9));
        var requests = new BenchRequests(OtlpBenchmarkPayloads.Small, spansPerTrace: 10);
        foreach (var policy in new[] { "TTL (median age)", "byte cap (half)" })
        {
            var folder = Path.Combine(root, policy.StartsWith("TTL", StringComparison.Ordinal) ? "ttl" : "cap");
            using var catalog = SegmentPile.Build(folder, requests, segments, 8L << 20);
            var traces = catalog.Segments().Sum(s => s.Traces);
            var bytesBefore = catalog.Segments().Sum(s => s.Bytes);
            var clock = new FixedClock(DateTimeOffset.UtcNow);
            RetentionPolicy limit;
            if (policy.StartsWith("TTL", StringComparison.Ordinal))
            {
                // The clock is fixed a day after the median request time, so MaxAge = 1 day deletes the older half.
                var median = MedianRequestTimeMs(catalog);
                clock = new FixedClock(DateTimeOffset.FromUnixTimeMilliseconds(median).AddDays(1));
                limit = new RetentionPolicy(MaxAge: TimeSpan.FromDays(1));
            }
            else
            {
                limit = new RetentionPolicy(MaxBytes: bytesBefore / 2);
            }

            var compaction = new CompactionOptions { RunInBackground = false };
            var maintenance = new StoreMaintenance(catalog, compaction, new RetentionOptions { Default = limit }, clock, NullLogger.Instance);
            try
            {
                GC.Collect();
                var monitor = new MergeMonitor(SegmentScratch.SpillFolder(catalog.SegmentsFolder));
                var started = Stopwatch.GetTimestamp();
                var enforced = maintenance.EnforceRetentionNow();
                var enforce = Stopwatch.GetElapsedTime(started).TotalSeconds;
                started = Stopwatch.GetTimestamp();
                var compacted = maintenance.CompactNow();
                var compact = Stopwatch.GetElapsedTime(started).TotalSeconds;
                monitor.Dispose();
                var deleted = enforced.ExpiredTraces + enforced.OverCapTraces;
                table.Add(policy, (long)segments, traces, (long)deleted, enforce, deleted / enforce, compact, compacted.SegmentsRewritten, compacted.SegmentsMerged, bytesBefore / 1e6, compacted.BytesAfter / 1e6, monitor.PeakRssBytes / 1048576.0);
                progress.WriteLine($"  retention {policy}: {deleted} of {traces} traces deleted in {enforce:F2} s, compaction after it {compact:F1} s");
            }
            finally
            {
                maintenance.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }

        return table;
    }

    /// <summary>The median request time (ms) of the catalog's traces, read from its traces files.</summary>
    private static long MedianRequestTimeMs(SegmentCatalog catalog) =>
        Convert.ToInt64(QueryTraces(catalog, "SELECT quantile_disc(request_time_ms, 0.5) FROM {0}")[0][0], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The catalog's trace ids, in trace-id order.</summary>
    private static IEnumerable<string> TraceIds(SegmentCatalog catalog) =>
        QueryTraces(catalog, "SELECT trace_id FROM {0} ORDER BY trace_id").Select(row => (string)row[0]!);

    /// <summary>Rows of <paramref name="sql"/>, whose <c>{0}</c> reads every traces file of the catalog (our own
    /// paths, quoted as literals).</summary>
    private static List<object?[]> QueryTraces(SegmentCatalog catalog, string sql)
    {
        using var database = DuckDbDatabase.OpenInMemory();
        using var connection = database.Connect();
        var files = "[" + string.Join(", ", catalog.Segments().Select(s => DuckDbSql.Literal(Path.Combine(s.Folder, SegmentFormat.TracesFile)))) + "]";
        using var result = connection.Query(string.Format(System.Globalization.CultureInfo.InvariantCulture, sql, $"read_parquet({files})"));
        return result.ReadAllRows();
    }

    /// <summary>A clock that stays at one instant, so a TTL's cutoff does not move while the benchmark runs; timers
    /// (unused: the maintenance loop is not started) stay the system's.</summary>
    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
