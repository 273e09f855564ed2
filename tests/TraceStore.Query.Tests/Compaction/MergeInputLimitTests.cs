using TraceStore.Engine.Compaction;

namespace TraceStore.Query.Tests.Compaction;

/// <summary>
/// A merge takes at most <see cref="CompactionOptions.MaxMergeInputs"/> segments (each input is read by a stream of
/// its own, so the count bounds a merge's reading memory), and a round keeps merging in bounded batches until one
/// segment is left, with every span of a trace that lay in all of them read back once.
/// </summary>
public sealed class MergeInputLimitTests
{
    [Fact]
    public async Task A_plan_takes_the_oldest_small_segments_up_to_the_input_limit()
    {
        await using var store = await StoreWithSmallSegments(5, maxInputs: 3);
        var oldest = store.Store.Catalog.Segments().Take(3).Select(s => s.SealSequence).ToList();

        var plan = store.Store.Maintenance.Compactor.Plan(1L << 30, 1L << 30, maxInputs: 3);

        Assert.Equal(oldest, plan.Select(s => s.SealSequence));
    }

    [Fact]
    public async Task A_round_merges_seven_segments_three_at_a_time_into_one()
    {
        await using var store = await StoreWithSmallSegments(7, maxInputs: 3);

        var result = store.Store.CompactNow();

        // 1-3 → A, 4-6 → B, then 7, A and B → C: three merges of three inputs each.
        Assert.Equal(3, result.Merges);
        Assert.Equal(9, result.SegmentsMerged);
        Assert.Equal(1, store.Store.GetStats().Segments);
        var trace = store.Get(TestSpans.Id(3))!;
        Assert.Equal(7, trace.Summary.SpanCount);
        Assert.Equal(7, trace.Spans.Count);
        Assert.Equal(7, trace.Spans.Select(s => s.SpanId).Distinct().Count());
    }

    [Fact]
    public void A_merge_of_fewer_than_two_inputs_is_refused_as_a_setting()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new CompactionOptions { MaxMergeInputs = 1 }.Validate());
        Assert.Equal(nameof(CompactionOptions.MaxMergeInputs), error.ParamName);
    }

    private static Task<StoreFixture> StoreWithSmallSegments(int count, int maxInputs) =>
        StoreFixture.WithSmallSegments(count, new CompactionOptions { MaxMergeInputs = maxInputs });
}
