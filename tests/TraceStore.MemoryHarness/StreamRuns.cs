using System.Diagnostics;
using TraceStore.Engine;
using TraceStore.Engine.Ingest;
using TraceStore.OtlpOracle;
using TraceStore.Protocol.Content;
using TraceStore.Testing;

namespace TraceStore.MemoryHarness;

/// <summary>
/// Streams that must fit the budget however big what they carry is: one trace of a million spans (sealed in parts
/// while it arrives), and a stream of 250 KB spans. Both wait for the budget instead of being refused (a bulk client),
/// so what is measured is the store holding memory, not the refusals.
/// </summary>
internal static class StreamRuns
{
    /// <summary>Ingests <paramref name="spans"/> children of one trace, <paramref name="spansPerRequest"/> per request,
    /// then its root, and seals what is left.</summary>
    public static async Task<object> BigTraceAsync(TraceStoreOptions options, int spans, int spansPerRequest)
    {
        var payload = new BigTracePayload(spansPerRequest);
        await WarmUpAsync(options, payload.RootBody);
        var baseline = ProcessMemory.ResidentBytes();
        using var sampler = new ResidentMemorySampler();
        var clock = Stopwatch.StartNew();
        var store = TraceStore.Engine.TraceStore.Open(options);
        long accepted = 0;
        var requests = spans / spansPerRequest;
        for (var request = 0; request < requests; request++)
        {
            if (request % 50 == 0 && store.GetStats().SealProblem is { } problem)
            {
                Console.Error.WriteLine($"request {request}: sealing fails: {problem}");
            }

            payload.Renew(request);
            accepted += Accepted(await store.IngestWaitingAsync(new OtlpPayload(payload.Body, OtlpPayloadFormat.Protobuf)));
        }

        accepted += Accepted(await store.IngestWaitingAsync(new OtlpPayload(payload.RootBody, OtlpPayloadFormat.Protobuf)));
        store.SealAll();
        clock.Stop();
        var stats = store.GetStats();
        await store.DisposeAsync();
        return new
        {
            trace_id = "tr-" + BigTracePayload.TraceIdHex,
            accepted_spans = accepted,
            requests = requests + 1,
            segments_written = stats.SegmentsWritten,
            seal_problem = stats.SealProblem,
            seconds = clock.Elapsed.TotalSeconds,
            spans_per_s = accepted / clock.Elapsed.TotalSeconds,
            budget_bytes = options.MemoryBudgetBytes,
            budget_peak_bytes = stats.MemoryPeakBytes,
            baseline_rss_bytes = baseline,
            peak_rss_bytes = sampler.PeakBytes,
            peak_gc_committed_bytes = sampler.PeakManagedCommittedBytes,
        };
    }

    /// <summary>Ingests <paramref name="spans"/> single-span requests whose span carries <paramref name="spanBytes"/>
    /// of attribute value, from <paramref name="producers"/> concurrent producers.</summary>
    public static async Task<object> LargeSpansAsync(TraceStoreOptions options, int spans, int spanBytes, int producers)
    {
        var payloads = Enumerable.Range(1, producers).Select(p => new RenewableRequest(OtlpTestRequests.Protobuf(1, valueBytes: spanBytes, seed: p, spansPerTrace: 1))).ToArray();
        await WarmUpAsync(options, payloads[0].Body);
        payloads[0].Renew();
        var baseline = ProcessMemory.ResidentBytes();
        using var sampler = new ResidentMemorySampler();
        var clock = Stopwatch.StartNew();
        var store = TraceStore.Engine.TraceStore.Open(options);
        long accepted = 0, acceptedBytes = 0, remaining = spans;
        await Task.WhenAll(payloads.Select(payload => Task.Run(async () =>
        {
            while (Interlocked.Decrement(ref remaining) >= 0)
            {
                var result = await store.IngestWaitingAsync(new OtlpPayload(payload.Body, OtlpPayloadFormat.Protobuf));
                Interlocked.Add(ref accepted, Accepted(result));
                Interlocked.Add(ref acceptedBytes, payload.Body.Length);
                payload.Renew();
            }
        })));
        store.SealAll();
        clock.Stop();
        var stats = store.GetStats();
        await store.DisposeAsync();
        return new
        {
            accepted_spans = accepted,
            request_bytes = payloads[0].Body.Length,
            segments_written = stats.SegmentsWritten,
            seal_problem = stats.SealProblem,
            seconds = clock.Elapsed.TotalSeconds,
            accepted_mb_per_s = acceptedBytes / clock.Elapsed.TotalSeconds / 1e6,
            budget_bytes = options.MemoryBudgetBytes,
            budget_peak_bytes = stats.MemoryPeakBytes,
            baseline_rss_bytes = baseline,
            peak_rss_bytes = sampler.PeakBytes,
            peak_gc_committed_bytes = sampler.PeakManagedCommittedBytes,
        };
    }

    private static long Accepted(IngestResult result) =>
        result.Outcome == IngestOutcome.Accepted ? result.AcceptedSpans : throw new InvalidOperationException($"The store answered {result.Outcome}: {result.Message}");

    /// <summary>Loads and JITs the store's whole path (ingest, seal, segment write) on a scratch folder, so the
    /// baseline holds the code and the growth above it is data.</summary>
    private static async Task WarmUpAsync(TraceStoreOptions options, byte[] body)
    {
        var warm = Path.Combine(Path.GetTempPath(), $"memory-harness-warm-{Guid.NewGuid():N}");
        await using (var store = TraceStore.Engine.TraceStore.Open(options with { DataDirectory = warm }))
        {
            await store.IngestWaitingAsync(new OtlpPayload(body, OtlpPayloadFormat.Protobuf));
            store.SealAll();
        }

        Directory.Delete(warm, recursive: true);
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
    }
}
