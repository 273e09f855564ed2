using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using TraceStore.Engine;
using TraceStore.Engine.Ingest;
using TraceStore.MemoryHarness;
using TraceStore.OtlpOracle;
using TraceStore.Protocol.Content;
using TraceStore.Protocol.Otlp;
using TraceStore.Testing;

// Usage:
//   TraceStore.MemoryHarness overload <data folder> <budget MiB> <seconds> <producers> <request KiB>
//     Producers ingest new requests (traces of 10 spans) back to back and retry 1 ms after each refusal (far sooner
//     than the retry-after asks), so the store is offered several times what it drains, through the whole path:
//     WAL, assembler, sealing into segments. Prints one JSON line with the outcome counts and memory.
//   TraceStore.MemoryHarness bigtrace <data folder> <budget MiB> <spans> <spans per request>
//     One trace of <spans> children (then its root), sealed in parts as it arrives (StreamRuns).
//   TraceStore.MemoryHarness largespans <data folder> <budget MiB> <spans> <span bytes> <producers>
//     A stream of single-span requests, each span carrying <span bytes> of attribute value (StreamRuns).
//   TraceStore.MemoryHarness replay <data folder> <budget MiB>
//     Opens the store (replaying its WAL) and prints one JSON line with the replay counts and memory.
// Memory: resident set size sampled every 2 ms; the baseline is taken once the runtime, the store's code and the
// producers' request bodies are loaded, so the growth above it is what the store itself holds.
var mode = args[0];
var folder = args[1];
var budget = long.Parse(args[2], CultureInfo.InvariantCulture) << 20;
var options = new TraceStoreOptions
{
    DataDirectory = folder,
    MemoryBudgetBytes = budget,
    Decoder = OtlpDecoderOptions.Default with { MaxMessageBytes = budget / 4 },
    Compaction = new TraceStore.Engine.Compaction.CompactionOptions { RunInBackground = Environment.GetEnvironmentVariable("MEMORY_HARNESS_COMPACTION") != "0" },
};

if (mode == "bigtrace")
{
    using var sampled = Environment.GetEnvironmentVariable("MEMORY_HARNESS_ALLOCATIONS") == "1" ? new AllocationSampler() : null;
    Print(await StreamRuns.BigTraceAsync(options, spans: int.Parse(args[3], CultureInfo.InvariantCulture), spansPerRequest: int.Parse(args[4], CultureInfo.InvariantCulture)));
    foreach (var (type, bytes) in sampled?.Top(15) ?? [])
    {
        Console.Error.WriteLine($"{bytes / 1e6,10:F1} MB  {type}");
    }

    return 0;
}

if (mode == "largespans")
{
    Print(await StreamRuns.LargeSpansAsync(options, spans: int.Parse(args[3], CultureInfo.InvariantCulture), spanBytes: int.Parse(args[4], CultureInfo.InvariantCulture), producers: int.Parse(args[5], CultureInfo.InvariantCulture)));
    return 0;
}

if (mode == "replay")
{
    // Load and JIT the store's code on an empty folder first, so the baseline holds it.
    var warm = Path.Combine(Path.GetTempPath(), $"memory-harness-warm-{Guid.NewGuid():N}");
    await (TraceStore.Engine.TraceStore.Open(options with { DataDirectory = warm })).DisposeAsync();
    Directory.Delete(warm, recursive: true);
    Collect();
    var baseline = ProcessMemory.ResidentBytes();
    using var sampler = new ResidentMemorySampler();
    var started = Stopwatch.GetTimestamp();
    var store = TraceStore.Engine.TraceStore.Open(options);
    var elapsed = Stopwatch.GetElapsedTime(started);
    var stats = store.GetStats();
    await store.DisposeAsync();
    Print(new
    {
        records = stats.ReplayedRecords,
        spans = stats.ReplayedSpans,
        wal_bytes = stats.ReplayedBytes,
        segments_written = stats.SegmentsWritten,
        seconds = elapsed.TotalSeconds,
        budget_bytes = budget,
        budget_peak_bytes = stats.MemoryPeakBytes,
        baseline_rss_bytes = baseline,
        peak_rss_bytes = sampler.PeakBytes,
        peak_gc_committed_bytes = sampler.PeakManagedCommittedBytes,
    });
    return 0;
}

using var allocations = Environment.GetEnvironmentVariable("MEMORY_HARNESS_ALLOCATIONS") == "1" ? new AllocationSampler() : null;
var seconds = double.Parse(args[3], CultureInfo.InvariantCulture);
var producers = int.Parse(args[4], CultureInfo.InvariantCulture);
var requestKiB = int.Parse(args[5], CultureInfo.InvariantCulture);
// Every request is new (its own trace ids, traces of 10 spans), so every accepted span can be counted in the segments
// afterwards. Each producer's body is built before the baseline and renewed in place (RenewableRequest), so the growth
// measured is the store's, not the harness building requests.
var spansPerRequest = Math.Max(10, requestKiB * 1024 / 600 / 10 * 10);
var payloads = Enumerable.Range(1, producers).Select(p => new RenewableRequest(OtlpTestRequests.Protobuf(spansPerRequest, valueBytes: 500, seed: p, spansPerTrace: 10))).ToArray();
var overloadStore = TraceStore.Engine.TraceStore.Open(options);
const int WarmupRequests = 8;
for (var w = 0; w < WarmupRequests; w++)
{
    var warmup = payloads[w % producers];
    await overloadStore.IngestAsync(new OtlpPayload(warmup.Body, OtlpPayloadFormat.Protobuf));
    warmup.Renew();
}

Collect();
var overloadBaseline = ProcessMemory.ResidentBytes();
var overloadBaselineManaged = GC.GetTotalMemory(forceFullCollection: false);
var outcomes = new long[4];
long acceptedSpans = 0, offeredBytes = 0, acceptedBytes = 0;
long minRetryMs = long.MaxValue, maxRetryMs = 0;
var gate = new object();
var deadline = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
var clock = Stopwatch.StartNew();
using (var overloadSampler = new ResidentMemorySampler())
{
    await Task.WhenAll(Enumerable.Range(0, producers).Select(p => Task.Run(async () =>
    {
        var payload = payloads[p];
        while (Stopwatch.GetTimestamp() < deadline)
        {
            Interlocked.Add(ref offeredBytes, payload.Body.Length);
            var result = await overloadStore.IngestAsync(new OtlpPayload(payload.Body, OtlpPayloadFormat.Protobuf));
            Interlocked.Increment(ref outcomes[(int)result.Outcome]);
            if (result.Outcome == IngestOutcome.Accepted)
            {
                Interlocked.Add(ref acceptedSpans, result.AcceptedSpans);
                Interlocked.Add(ref acceptedBytes, payload.Body.Length);
                payload.Renew();
            }
            else if (result.Outcome == IngestOutcome.Overloaded)
            {
                lock (gate)
                {
                    minRetryMs = Math.Min(minRetryMs, (long)result.RetryAfter.TotalMilliseconds);
                    maxRetryMs = Math.Max(maxRetryMs, (long)result.RetryAfter.TotalMilliseconds);
                }

                await Task.Delay(1);
            }
        }
    })));
    clock.Stop();
    var overloadStats = overloadStore.GetStats();
    var managedBeforeCollect = GC.GetTotalMemory(forceFullCollection: false);
    Collect();
    var liveAfterCollect = GC.GetTotalMemory(forceFullCollection: false);
    var rssAfterCollect = ProcessMemory.ResidentBytes();
    await overloadStore.DisposeAsync();
    Print(new
    {
        accepted = outcomes[(int)IngestOutcome.Accepted],
        rejected = outcomes[(int)IngestOutcome.Rejected],
        overloaded = outcomes[(int)IngestOutcome.Overloaded],
        unavailable = outcomes[(int)IngestOutcome.Unavailable],
        accepted_spans = acceptedSpans,
        warmup_requests = WarmupRequests,
        warmup_spans = WarmupRequests * spansPerRequest,
        segments_written = overloadStats.SegmentsWritten,
        offered_mb_per_s = offeredBytes / clock.Elapsed.TotalSeconds / 1e6,
        accepted_mb_per_s = acceptedBytes / clock.Elapsed.TotalSeconds / 1e6,
        min_retry_after_ms = minRetryMs,
        max_retry_after_ms = maxRetryMs,
        budget_bytes = budget,
        budget_peak_bytes = overloadStats.MemoryPeakBytes,
        baseline_rss_bytes = overloadBaseline,
        baseline_managed_bytes = overloadBaselineManaged,
        peak_rss_bytes = overloadSampler.PeakBytes,
        peak_gc_committed_bytes = overloadSampler.PeakManagedCommittedBytes,
        managed_at_end_bytes = managedBeforeCollect,
        live_managed_after_full_gc_bytes = liveAfterCollect,
        rss_after_full_gc_bytes = rssAfterCollect,
    });
}

if (allocations is not null)
{
    foreach (var (type, bytes) in allocations.Top(20))
    {
        Console.Error.WriteLine($"{bytes / 1e6,10:F1} MB  {type}");
    }
}

return 0;

static void Collect()
{
    GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    GC.WaitForPendingFinalizers();
}

static void Print(object summary)
{
    Console.Out.WriteLine(JsonSerializer.Serialize(summary));
    Console.Out.Flush();
}
