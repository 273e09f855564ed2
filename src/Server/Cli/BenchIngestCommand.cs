using System.CommandLine;
using System.Diagnostics;
using TraceStore.Engine;
using TraceStore.Engine.Ingest;
using TraceStore.Engine.Segments;
using TraceStore.OtlpOracle;
using TraceStore.Protocol.Content;

namespace TraceStore.Server.Cli;

/// <summary>
/// <c>tracestore bench ingest</c>: the whole ingest path in process, sustained. For the decode benchmark's "small" and
/// "genai" spans and "genai-text" (genai spans with prose-like text), in traces of <c>--spans-per-trace</c>, <c>--producers</c> concurrent producers call
/// <see cref="Engine.TraceStore.IngestAsync"/> back to back, each request with new trace and span ids: decode, WAL
/// append with fsync group commit, assembly, and the store's own sealer writing segments behind it. A producer told
/// "overloaded" waits 10 ms and retries (far sooner than the retry-after asks: the store is kept at its limit). After a
/// warm-up (at least 3 s, and until the memory budget first passes its high watermark, at most 30 s), the window counts
/// spans accepted (acknowledged durable) and spans sealed (in committed segments): sustained means both, since accepted
/// spans the sealer cannot keep up with end as refusals once the memory budget is full.
/// Configurations take turns, each on a new store.
/// </summary>
internal static class BenchIngestCommand
{
    /// <summary>The warm-up lasts at least this long, and until the memory budget first passes its high watermark (so
    /// the window sees the steady state: the sealer under pressure, refusals once it cannot keep up), but no longer
    /// than <see cref="LongestWarmUp"/>.</summary>
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(3);

    private static readonly TimeSpan LongestWarmUp = TimeSpan.FromSeconds(30);

    /// <summary>How far a paced producer that fell behind its schedule may catch up (see <see cref="Measure"/>).</summary>
    private static readonly TimeSpan PacedCatchUp = TimeSpan.FromSeconds(1);

    public static Command Create()
    {
        var seconds = new Option<double>("--seconds") { Description = "Measuring window per run (after the warm-up).", DefaultValueFactory = _ => 20 };
        var rounds = new Option<int>("--rounds") { Description = "Runs of each configuration and payload (medians are printed).", DefaultValueFactory = _ => 1 };
        var producers = new Option<int>("--producers") { Description = "Concurrent producers.", DefaultValueFactory = _ => 16 };
        var spansPerTrace = new Option<int>("--spans-per-trace") { Description = "Spans per trace.", DefaultValueFactory = _ => 10 };
        var format = new Option<string>("--format") { Description = "Output format.", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "json");
        var folder = new Option<DirectoryInfo?>("--data") { Description = "Folder to write in (default: a new folder under the system temp folder, deleted after)." };
        var kinds = new Option<string>("--kinds") { Description = "Payload kinds, comma-separated.", DefaultValueFactory = _ => $"{OtlpBenchmarkPayloads.Small},{OtlpBenchmarkPayloads.GenAi},{OtlpBenchmarkPayloads.GenAiVariedText}" };
        var only = new Option<string?>("--configurations") { Description = "Configurations to run, comma-separated names (default: all)." };
        var command = new Command("ingest", "Measure sustained in-process ingest (decode, WAL group commit, assemble, seal): spans/s and MB/s accepted and sealed.")
        {
            seconds, rounds, producers, spansPerTrace, format, folder, kinds, only,
        };
        command.SetAction(async (result, cancellation) =>
        {
            var root = result.GetValue(folder)?.FullName ?? Path.Combine(Path.GetTempPath(), $"tracestore-bench-ingest-{Guid.NewGuid():N}");
            Directory.CreateDirectory(root);
            try
            {
                var settings = new Settings(
                    TimeSpan.FromSeconds(Math.Max(1, result.GetValue(seconds))),
                    Math.Max(1, result.GetValue(rounds)),
                    Math.Max(1, result.GetValue(producers)),
                    Math.Max(1, result.GetValue(spansPerTrace)),
                    result.GetValue(kinds)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
                    result.GetValue(only)?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) is { } names
                        ? [.. Configurations.Where(c => names.Contains(c.Name))]
                        : Configurations);
                var table = await Run(root, settings, result.InvocationConfiguration.Output).ConfigureAwait(false);
                table.Write(result.InvocationConfiguration.Output, result.GetValue(format)!);
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

    private sealed record Settings(TimeSpan Window, int Rounds, int Producers, int SpansPerTrace, IReadOnlyList<string> Kinds, IReadOnlyList<Configuration> Configurations);

    /// <summary>Store settings measured against each other.</summary>
    internal sealed record Configuration(string Name, Func<string, TraceStoreOptions> Options);

    internal static IReadOnlyList<Configuration> Configurations { get; } =
    [
        new("defaults", folder => new TraceStoreOptions { DataDirectory = folder }),
        new("8 MiB segments, 24 MiB DuckDB", folder => new TraceStoreOptions
        {
            DataDirectory = folder,
            Sealer = new SealerOptions { MaxSegmentBufferBytes = 8L << 20 },
            SegmentWriter = new SegmentWriterOptions { MemoryLimitBytes = 24L << 20, Threads = 1 },
        }),
        new("1 file at a time", folder => new TraceStoreOptions { DataDirectory = folder, SegmentWriter = new SegmentWriterOptions { Threads = 1 } }),
    ];

    /// <summary>One run's counts over its window. Latencies are of accepted requests only (an overloaded reply comes
    /// at once), from the call of <see cref="Engine.TraceStore.IngestAsync"/> to its durable acknowledgement, in ms.</summary>
    internal sealed record Outcome(double AcceptedSpansPerSecond, double SealedSpansPerSecond, double AcceptedMegabytesPerSecond, double SealedMegabytesPerSecond, long Overloaded, long Segments, long SealedSpans, long PeakMemoryBytes, double CpuSeconds, double LatencyP50Ms, double LatencyP99Ms, long SegmentsCompacted);

    private static async Task<BenchTable> Run(string root, Settings settings, TextWriter progress)
    {
        var table = new BenchTable(
            ("payload", "payload", -10),
            ("configuration", "configuration", -30),
            ("runs", "runs", 5),
            ("accepted/s", "accepted_spans_per_second", 12),
            ("sealed/s", "sealed_spans_per_second", 12),
            ("accepted MB/s", "accepted_otlp_megabytes_per_second", 14),
            ("sealed MB/s", "sealed_otlp_megabytes_per_second", 12),
            ("overloaded", "overloaded_requests", 11),
            ("segments", "segments", 9),
            ("spans/seg", "spans_per_segment", 10),
            ("peak MiB", "memory_budget_peak_mib", 9),
            ("p50 ms", "ingest_latency_p50_ms", 7),
            ("p99 ms", "ingest_latency_p99_ms", 7),
            ("CPU %", "process_cpu_percent_of_machine", 6));
        progress.WriteLine($"bench ingest: {settings.Producers} producers, {settings.SpansPerTrace} spans per trace, warm-up until the budget's high watermark ({WarmUp.TotalSeconds:F0}-{LongestWarmUp.TotalSeconds:F0} s) + {settings.Window.TotalSeconds:F0} s per run, {settings.Rounds} round(s), {Environment.ProcessorCount} cores, load average {BenchSealCommand.LoadAverage()}");
        foreach (var kind in settings.Kinds)
        {
            // Each producer hands out its own distinct requests (BenchRequests), so segments do not repeat content.
            var requests = Enumerable.Range(0, settings.Producers)
                .Select(p => new BenchRequests(kind, settings.SpansPerTrace, firstSeed: 1 + (p * BenchRequests.Count)))
                .ToArray();
            var otlpPerSpan = requests.Average(r => r.BytesPerSpan);
            var outcomes = settings.Configurations.Select(_ => new List<Outcome>()).ToArray();
            for (var round = 0; round < settings.Rounds; round++)
            {
                for (var c = 0; c < settings.Configurations.Count; c++)
                {
                    var folder = Path.Combine(root, $"{kind}-{c}-{round}");
                    outcomes[c].Add(await Measure(settings.Configurations[c].Options(folder), requests, otlpPerSpan, settings.Window).ConfigureAwait(false));
                    Directory.Delete(folder, recursive: true);
                }
            }

            for (var c = 0; c < settings.Configurations.Count; c++)
            {
                var runs = outcomes[c];
                table.Add(
                    kind,
                    settings.Configurations[c].Name,
                    runs.Count,
                    Median(runs.Select(o => o.AcceptedSpansPerSecond)),
                    Median(runs.Select(o => o.SealedSpansPerSecond)),
                    Median(runs.Select(o => o.AcceptedMegabytesPerSecond)),
                    Median(runs.Select(o => o.SealedMegabytesPerSecond)),
                    (long)Median(runs.Select(o => (double)o.Overloaded)),
                    (long)Median(runs.Select(o => (double)o.Segments)),
                    (long)Median(runs.Select(o => o.Segments == 0 ? 0 : (double)o.SealedSpans / o.Segments)),
                    Median(runs.Select(o => o.PeakMemoryBytes / 1048576.0)),
                    Median(runs.Select(o => o.LatencyP50Ms)),
                    Median(runs.Select(o => o.LatencyP99Ms)),
                    Median(runs.Select(o => 100 * o.CpuSeconds / settings.Window.TotalSeconds / Environment.ProcessorCount)));
            }
        }

        return table;
    }

    /// <summary>
    /// Runs one store under <paramref name="requests"/>' producers, warms it up, then measures a window.
    /// <paramref name="offeredSpansPerSecond"/> 0 is a bulk client: each producer sends its next request as soon as
    /// the last one is accepted (the store's capacity is what is measured). Above 0 the producers together offer that
    /// many spans per second on a fixed schedule (a paced client, below capacity): a producer that falls behind
    /// catches up by at most <see cref="PacedCatchUp"/> of sends, so a stall is not followed by an unbounded burst,
    /// and the warm-up is <see cref="WarmUp"/> alone (paced load may never reach the high watermark).
    /// </summary>
    internal static async Task<Outcome> Measure(TraceStoreOptions options, BenchRequests[] requests, double otlpPerSpan, TimeSpan window, double offeredSpansPerSecond = 0)
    {
        var perProducer = offeredSpansPerSecond / requests.Length;
        var store = Engine.TraceStore.Open(options);
        await using var closing = store.ConfigureAwait(false);
        using var stop = new CancellationTokenSource();
        long accepted = 0, overloaded = 0;
        var measuring = false;
        var latencies = requests.Select(_ => new List<double>()).ToArray();
        var producers = requests.Select((pool, p) => Task.Run(async () =>
        {
            var request = pool.Next();
            var due = Stopwatch.GetTimestamp();
            while (!stop.IsCancellationRequested)
            {
                if (perProducer > 0)
                {
                    var now = Stopwatch.GetTimestamp();
                    due = Math.Max(due, now - (long)(PacedCatchUp.TotalSeconds * Stopwatch.Frequency));
                    if (due > now)
                    {
                        await Task.Delay(Stopwatch.GetElapsedTime(now, due), CancellationToken.None).ConfigureAwait(false);
                    }
                }

                var started = Stopwatch.GetTimestamp();
                var result = await store.IngestAsync(new OtlpPayload(request.Body, OtlpPayloadFormat.Protobuf)).ConfigureAwait(false);
                switch (result.Outcome)
                {
                    case IngestOutcome.Accepted:
                        if (Volatile.Read(ref measuring))
                        {
                            latencies[p].Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                        }

                        Interlocked.Add(ref accepted, result.AcceptedSpans);
                        if (perProducer > 0)
                        {
                            due += (long)(request.Spans / perProducer * Stopwatch.Frequency);
                        }

                        request = pool.Next();
                        break;
                    case IngestOutcome.Overloaded:
                        Interlocked.Increment(ref overloaded);
                        await Task.Delay(10).ConfigureAwait(false);
                        break;
                    default:
                        throw new InvalidOperationException($"Ingest failed: {result.Outcome}: {result.Message}");
                }
            }
        })).ToArray();

        var warming = Stopwatch.StartNew();
        while (warming.Elapsed < LongestWarmUp && (warming.Elapsed < WarmUp || (perProducer == 0 && store.Budget.PeakBytes <= store.Budget.HighWatermarkBytes)))
        {
            await Task.Delay(100).ConfigureAwait(false);
        }

        var before = store.GetStats();
        var acceptedBefore = Interlocked.Read(ref accepted);
        var overloadedBefore = Interlocked.Read(ref overloaded);
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        Volatile.Write(ref measuring, true);
        await Task.Delay(window).ConfigureAwait(false);
        Volatile.Write(ref measuring, false);
        var after = store.GetStats();
        var seconds = clock.Elapsed.TotalSeconds;
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
        var acceptedSpans = Interlocked.Read(ref accepted) - acceptedBefore;
        var overloads = Interlocked.Read(ref overloaded) - overloadedBefore;
        await stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(producers).ConfigureAwait(false);
        // Spans in committed segments: a merge replaces its inputs by one segment of the same spans (the requests are
        // distinct and nothing is deleted here), so compaction running in the window does not change this count.
        var sealedSpans = after.SealedSpans - before.SealedSpans;
        var sorted = latencies.SelectMany(l => l).Order().ToList();
        return new Outcome(
            acceptedSpans / seconds,
            sealedSpans / seconds,
            acceptedSpans * otlpPerSpan / seconds / 1e6,
            sealedSpans * otlpPerSpan / seconds / 1e6,
            overloads,
            after.SegmentsWritten - before.SegmentsWritten,
            sealedSpans,
            after.MemoryPeakBytes,
            cpu,
            Percentile(sorted, 0.50),
            Percentile(sorted, 0.99),
            after.SegmentsCompacted - before.SegmentsCompacted);
    }

    /// <summary>The nearest-rank percentile of sorted values (0 when there are none).</summary>
    internal static double Percentile(List<double> sorted, double fraction) =>
        sorted.Count == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(fraction * sorted.Count) - 1, 0, sorted.Count - 1)];

    /// <summary>The median (the mean of the middle two for an even count); 0 for no values. Shared by the bench
    /// commands.</summary>
    internal static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? 0 : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
