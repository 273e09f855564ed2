using TraceStore.Engine.Compaction;
using TraceStore.Engine.Ingest;
using TraceStore.Protocol.Content;

namespace TraceStore.Query.Tests.Compaction;

/// <summary>Background rounds put merges off while ingest is short of memory (a client refused for the budget since
/// the previous round), for at most <see cref="CompactionOptions.MaxMergeDeferral"/>; an explicit pass never waits.
/// Rounds are run by the test (<c>StoreMaintenance.RunRound</c>, the loop's own round), the shortage is a real ingest
/// request refused by a full budget, and the deferral's time is the store's clock.</summary>
public sealed class MergeDeferralTests
{
    private static readonly TimeSpan MaxDeferral = TimeSpan.FromMinutes(5);

    [Fact]
    public async Task A_round_after_a_refused_request_puts_merges_off_and_the_next_quiet_round_merges()
    {
        await using var store = await StoreWithSmallSegments(3);

        await RefuseOneRequest(store);
        Assert.True(store.Store.Maintenance.RunRound());
        Assert.Equal(3, store.Store.GetStats().Segments);
        Assert.Equal(1, store.Store.GetStats().CompactionRoundsDeferred);

        Assert.False(store.Store.Maintenance.RunRound());
        Assert.Equal(1, store.Store.GetStats().Segments);
        Assert.Equal(1, store.Store.GetStats().CompactionRoundsDeferred);
        Assert.Equal(3, store.Get(TestSpans.Id(3))!.Summary.SpanCount);
    }

    [Fact]
    public async Task Merges_run_anyway_once_they_have_been_put_off_for_the_maximum_deferral()
    {
        await using var store = await StoreWithSmallSegments(3);

        await RefuseOneRequest(store);
        Assert.True(store.Store.Maintenance.RunRound());
        store.Clock.Advance(MaxDeferral - TimeSpan.FromSeconds(1));
        await RefuseOneRequest(store);
        Assert.True(store.Store.Maintenance.RunRound());
        Assert.Equal(3, store.Store.GetStats().Segments);

        store.Clock.Advance(TimeSpan.FromSeconds(1));
        await RefuseOneRequest(store);
        Assert.False(store.Store.Maintenance.RunRound());
        Assert.Equal(1, store.Store.GetStats().Segments);

        // The deferral period starts over at the next shortage.
        await store.SealAsync("exp", (10, 0, 1_763_700_000_010));
        await store.SealAsync("exp", (11, 0, 1_763_700_000_011));
        await RefuseOneRequest(store);
        Assert.True(store.Store.Maintenance.RunRound());
        Assert.Equal(3, store.Store.GetStats().Segments);
    }

    [Fact]
    public async Task A_shortage_during_a_merge_puts_the_round_s_next_merge_off()
    {
        await using var store = await StoreWithSmallSegments(4);
        var largest = store.Store.Catalog.Segments().Max(s => s.Bytes);
        await store.ReopenAsync(o => o with { Compaction = o.Compaction with { TargetSegmentBytes = largest + 1 } });
        var refused = 0;
        store.Store.Maintenance.Compactor.AfterOverlaySnapshot = () =>
        {
            if (refused++ == 0)
            {
                RefuseOneRequest(store).GetAwaiter().GetResult();
            }
        };

        Assert.True(store.Store.Maintenance.RunRound());
        Assert.Equal(3, store.Store.GetStats().Segments);
        Assert.Equal(2, store.Store.GetStats().SegmentsCompacted);

        Assert.False(store.Store.Maintenance.RunRound());
        Assert.Equal(2, store.Store.GetStats().Segments);
        Assert.Equal(4, store.Get(TestSpans.Id(3))!.Summary.SpanCount);
    }

    [Fact]
    public async Task An_explicit_pass_and_a_zero_deferral_never_wait()
    {
        await using var store = await StoreWithSmallSegments(2);
        await RefuseOneRequest(store);
        Assert.Equal(1, store.Store.CompactNow().Merges);

        await store.ReopenAsync(o => o with { Compaction = o.Compaction with { MaxMergeDeferral = TimeSpan.Zero } });
        await store.SealAsync("exp", (20, 0, 1_763_700_000_020));
        await RefuseOneRequest(store);
        Assert.False(store.Store.Maintenance.RunRound());
        Assert.Equal(1, store.Store.GetStats().Segments);
        Assert.Equal(0, store.Store.GetStats().CompactionRoundsDeferred);
    }

    private static Task<StoreFixture> StoreWithSmallSegments(int count) =>
        StoreFixture.WithSmallSegments(count, new CompactionOptions { MaxMergeDeferral = MaxDeferral });

    /// <summary>Holds the whole ingest budget while a request comes in, so the store refuses it for memory (a real
    /// shortage, counted by the budget), then gives the budget back.</summary>
    private static async Task RefuseOneRequest(StoreFixture store)
    {
        var budget = store.Store.Budget;
        var held = budget.LimitBytes - budget.UsedBytes;
        Assert.True(budget.TryReserve(held));
        try
        {
            var result = await store.Store.IngestAsync(new OtlpPayload(TestSpans.Body((99, 0, 1_763_700_000_099)), OtlpPayloadFormat.Protobuf), "exp");
            Assert.Equal(IngestOutcome.Overloaded, result.Outcome);
        }
        finally
        {
            budget.Release(held);
        }
    }
}
