using TraceStore.Engine;
using TraceStore.Engine.Compaction;

namespace TraceStore.Server.Cli;

/// <summary>
/// The ingest part of <c>tracestore bench compact</c>: <see cref="BenchIngestCommand.Measure"/> (16 producers, each
/// store new, warm-up, then the window) with the store's background compaction off, then on with a one-second
/// interval (so merges run through the window: the sealer's segments are far below
/// <see cref="CompactionOptions.SmallSegmentBytes"/>), the settings taking turns round by round. First under a bulk
/// client (as fast as the store accepts: the store is overloaded, so background merges are put off while ingest is
/// short of memory), then, when a paced fraction is given, under a paced client offering that fraction of the bulk
/// runs' median sealed spans/s with compaction off (below capacity: merges run beside ingest), over a longer window:
/// below capacity the sealer writes a segment every 200,000 spans or 30 s (<see cref="Engine.Segments.SealerOptions"/>),
/// so a window shorter than that may seal nothing, and sealed spans/s moves in whole segments. Reported per load and
/// setting: medians of sealed spans/s, accepted spans/s, p50/p99 latency of accepted requests, segments compaction
/// removed in the window, processor use, and "on"/"off" ratios of the medians under the same load.
/// </summary>
internal static class BenchCompactIngest
{
    private const int Producers = 16;

    private static readonly (string Name, Func<string, TraceStoreOptions> Options)[] Settings =
    [
        ("compaction off", folder => new TraceStoreOptions { DataDirectory = folder, Compaction = new CompactionOptions { RunInBackground = false } }),
        ("compaction every 1 s", folder => new TraceStoreOptions { DataDirectory = folder, Compaction = new CompactionOptions { Interval = TimeSpan.FromSeconds(1) } }),
    ];

    public static async Task<BenchTable> Run(string root, IReadOnlyList<string> payloads, TimeSpan window, int rounds, double pacedFraction, TimeSpan pacedWindow, TextWriter progress)
    {
        var table = new BenchTable(
            ("payload", "payload", -10),
            ("load", "load", -11),
            ("offered/s", "offered_spans_per_second", 10),
            ("setting", "setting", -22),
            ("runs", "runs", 5),
            ("sealed/s", "sealed_spans_per_second", 10),
            ("accepted/s", "accepted_spans_per_second", 11),
            ("p50 ms", "ingest_latency_p50_ms", 7),
            ("p99 ms", "ingest_latency_p99_ms", 8),
            ("overloaded", "overloaded_requests", 11),
            ("compacted", "segments_compacted", 10),
            ("CPU %", "process_cpu_percent_of_machine", 6),
            ("sealed/s ratio", "sealed_ratio_to_off", 15),
            ("p99 ratio", "p99_ratio_to_off", 10));
        progress.WriteLine($"  ingest: {Producers} producers, {window.TotalSeconds:F0} s windows (bulk), {(pacedFraction > 0 ? $"{pacedWindow.TotalSeconds:F0} s (paced at {pacedFraction:P0} of bulk), " : "")}{rounds} round(s) taking turns, load average {BenchSealCommand.LoadAverage()}");
        foreach (var kind in payloads)
        {
            var requests = Enumerable.Range(0, Producers)
                .Select(p => new BenchRequests(kind, spansPerTrace: 10, firstSeed: 1 + (p * BenchRequests.Count)))
                .ToArray();
            var otlpPerSpan = requests.Average(r => r.BytesPerSpan);
            var bulk = await RunLoad(root, kind, "bulk", 0, requests, otlpPerSpan, window, rounds, progress).ConfigureAwait(false);
            AddRows(table, kind, "bulk", 0, bulk, window);
            if (pacedFraction > 0)
            {
                var offered = pacedFraction * BenchIngestCommand.Median(bulk[0].Select(o => o.SealedSpansPerSecond));
                var load = $"paced {pacedFraction * 100:F0} %";
                var paced = await RunLoad(root, kind, "paced", offered, requests, otlpPerSpan, pacedWindow, rounds, progress).ConfigureAwait(false);
                AddRows(table, kind, load, offered, paced, pacedWindow);
            }
        }

        return table;
    }

    /// <summary>Every setting under one load, taking turns round by round; outcomes per setting.</summary>
    private static async Task<List<BenchIngestCommand.Outcome>[]> RunLoad(
        string root, string kind, string load, double offeredSpansPerSecond, BenchRequests[] requests, double otlpPerSpan, TimeSpan window, int rounds, TextWriter progress)
    {
        var outcomes = Settings.Select(_ => new List<BenchIngestCommand.Outcome>()).ToArray();
        for (var round = 0; round < rounds; round++)
        {
            for (var s = 0; s < Settings.Length; s++)
            {
                var folder = Path.Combine(root, $"{kind}-{load}-{s}-{round}");
                var outcome = await BenchIngestCommand.Measure(Settings[s].Options(folder), requests, otlpPerSpan, window, offeredSpansPerSecond).ConfigureAwait(false);
                outcomes[s].Add(outcome);
                Directory.Delete(folder, recursive: true);
                progress.WriteLine($"  ingest {kind} / {load} / {Settings[s].Name} round {round + 1}: sealed {outcome.SealedSpansPerSecond:F0}/s, p99 {outcome.LatencyP99Ms:F1} ms, {outcome.SegmentsCompacted} segments compacted, load average {BenchSealCommand.LoadAverage()}");
            }
        }

        return outcomes;
    }

    private static void AddRows(BenchTable table, string kind, string load, double offeredSpansPerSecond, List<BenchIngestCommand.Outcome>[] outcomes, TimeSpan window)
    {
        double Median(int s, Func<BenchIngestCommand.Outcome, double> f) => BenchIngestCommand.Median(outcomes[s].Select(f));
        for (var s = 0; s < Settings.Length; s++)
        {
            table.Add(
                kind,
                load,
                offeredSpansPerSecond,
                Settings[s].Name,
                outcomes[s].Count,
                Median(s, o => o.SealedSpansPerSecond),
                Median(s, o => o.AcceptedSpansPerSecond),
                Median(s, o => o.LatencyP50Ms),
                Median(s, o => o.LatencyP99Ms),
                (long)Median(s, o => o.Overloaded),
                (long)Median(s, o => o.SegmentsCompacted),
                Median(s, o => 100 * o.CpuSeconds / window.TotalSeconds / Environment.ProcessorCount),
                Median(s, o => o.SealedSpansPerSecond) / Median(0, o => o.SealedSpansPerSecond),
                Median(s, o => o.LatencyP99Ms) / Median(0, o => o.LatencyP99Ms));
        }
    }
}
