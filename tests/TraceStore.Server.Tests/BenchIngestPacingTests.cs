using TraceStore.Engine;
using TraceStore.Engine.Compaction;
using TraceStore.Server.Cli;
using TraceStore.Testing;

namespace TraceStore.Server.Tests;

/// <summary>
/// The paced client of <c>bench ingest</c>'s measurement (<see cref="BenchIngestCommand.Measure"/>), which
/// <c>bench compact</c> uses to run merges beside ingest below capacity. A rate far below what the store accepts must
/// be what is offered: neither the bulk client's rate (pacing ignored) nor a trickle (a schedule that waits too long).
/// </summary>
public sealed class BenchIngestPacingTests
{
    [Fact]
    public async Task A_paced_client_offers_its_rate_and_nothing_is_refused()
    {
        using var folder = new TempDirectory("bench-paced");
        // GenAI requests hold 250 spans each, so 1,000 spans/s is 4 requests a second over the two producers: fine
        // enough for a 4 s window, and a few percent of what a bulk client gets accepted even in a Debug build.
        var requests = Enumerable.Range(0, 2).Select(p => new BenchRequests("genai", spansPerTrace: 10, firstSeed: 1 + (p * 4), count: 4)).ToArray();
        const double offered = 1_000;
        var options = new TraceStoreOptions { DataDirectory = folder.Path, Compaction = new CompactionOptions { RunInBackground = false } };

        var outcome = await BenchIngestCommand.Measure(options, requests, requests.Average(r => r.BytesPerSpan), TimeSpan.FromSeconds(4), offered);

        // A stalled producer catches up by up to a second of sends, so on a loaded machine the window's rate still
        // stays well inside this range.
        Assert.InRange(outcome.AcceptedSpansPerSecond, offered * 0.5, offered * 1.5);
        Assert.Equal(0, outcome.Overloaded);
    }
}
