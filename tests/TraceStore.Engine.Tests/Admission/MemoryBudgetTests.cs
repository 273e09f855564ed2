using TraceStore.Engine.Admission;

namespace TraceStore.Engine.Tests.Admission;

public sealed class MemoryBudgetTests
{
    private const long MiB = 1 << 20;

    [Fact]
    public void TryReserve_refuses_what_would_pass_the_limit_and_reserves_nothing()
    {
        var budget = new MemoryBudget(4 * MiB);
        Assert.True(budget.TryReserve(3 * MiB));
        Assert.False(budget.TryReserve(MiB + 1));
        Assert.Equal(3 * MiB, budget.UsedBytes);
        Assert.True(budget.TryReserve(MiB));
        Assert.Equal(4 * MiB, budget.UsedBytes);
        budget.Release(4 * MiB);
        Assert.Equal(0, budget.UsedBytes);
        Assert.Equal(4 * MiB, budget.PeakBytes);
    }

    [Fact]
    public async Task Concurrent_reservations_never_pass_the_limit()
    {
        var budget = new MemoryBudget(8 * MiB);
        var refused = 0L;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(seed => Task.Run(() =>
        {
            var random = new Random(seed);
            for (var i = 0; i < 20_000; i++)
            {
                var bytes = random.Next(1, (int)MiB);
                if (budget.TryReserve(bytes))
                {
                    budget.Release(bytes);
                }
                else
                {
                    Interlocked.Increment(ref refused);
                }
            }
        })));

        Assert.Equal(0, budget.UsedBytes);
        Assert.InRange(budget.PeakBytes, 1, 8 * MiB);
    }

    [Fact]
    public void High_watermark_event_fires_once_per_upward_crossing()
    {
        var budget = new MemoryBudget(10 * MiB, highWatermarkFraction: 0.5);
        var crossings = 0;
        budget.HighWatermarkCrossed += () => crossings++;
        Assert.True(budget.TryReserve(4 * MiB));
        Assert.Equal(0, crossings);
        Assert.True(budget.TryReserve(2 * MiB));
        Assert.Equal(1, crossings);
        Assert.True(budget.IsAboveHighWatermark);
        Assert.True(budget.TryReserve(MiB));
        Assert.Equal(1, crossings);
        budget.Release(5 * MiB);
        Assert.False(budget.IsAboveHighWatermark);
        Assert.True(budget.TryReserve(4 * MiB));
        Assert.Equal(2, crossings);
    }

    [Fact]
    public void Retry_after_is_the_minimum_before_any_drain_and_grows_with_the_excess()
    {
        var budget = new MemoryBudget(100 * MiB);
        Assert.Equal(MemoryBudget.MinRetryAfter, budget.EstimateRetryAfter(200 * MiB));

        // Drain 10 MiB so a rate exists, then fill the budget.
        Assert.True(budget.TryReserve(10 * MiB));
        budget.Release(10 * MiB);
        Assert.True(budget.DrainBytesPerSecond > 0);
        Assert.True(budget.TryReserve(100 * MiB));
        var small = budget.EstimateRetryAfter(MiB);
        var large = budget.EstimateRetryAfter(1000 * MiB);
        Assert.InRange(small, MemoryBudget.MinRetryAfter, MemoryBudget.MaxRetryAfter);
        Assert.InRange(large, MemoryBudget.MinRetryAfter, MemoryBudget.MaxRetryAfter);
        Assert.True(large >= small);
    }

    [Fact]
    public async Task ReserveAsync_waits_for_a_release_and_refuses_what_can_never_fit()
    {
        var budget = new MemoryBudget(4 * MiB);
        Assert.True(budget.TryReserve(4 * MiB));
        var waiting = budget.ReserveAsync(2 * MiB).AsTask();
        Assert.False(waiting.IsCompleted);
        budget.Release(3 * MiB);
        await waiting;
        Assert.Equal(3 * MiB, budget.UsedBytes);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => budget.ReserveAsync(5 * MiB).AsTask());
    }

    [Fact]
    public async Task ReserveAsync_honours_cancellation()
    {
        var budget = new MemoryBudget(4 * MiB);
        Assert.True(budget.TryReserve(4 * MiB));
        using var cancel = new CancellationTokenSource();
        var waiting = budget.ReserveAsync(MiB, cancel.Token).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(4 * MiB, budget.UsedBytes);
    }
}
