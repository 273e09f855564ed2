using FsCheck;
using FsCheck.Fluent;
using TraceStore.Engine.Admission;
using TraceStore.Engine.Assembly;

namespace TraceStore.Engine.Tests.Assembly;

public sealed class SpanAssemblerTests
{
    private static readonly AssemblerOptions Options = new() { IdleAfterRootEnd = TimeSpan.FromSeconds(2), MaxTraceAge = TimeSpan.FromMinutes(5), MaxSpansPerPart = 100 };

    private readonly ManualTime _time = new();
    private readonly MemoryBudget _budget = new(256L << 20);

    [Fact]
    public void Trace_is_sealed_complete_only_after_its_root_ended_and_it_was_quiet_for_the_idle_period()
    {
        var assembler = new SpanAssembler(Options, _budget, _time);
        assembler.Add(SpanBatches.Decode([new(1, 2, 1), new(1, 3, 1)]), "0", walSequence: 5);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Empty(assembler.TakeDue());

        assembler.Add(SpanBatches.Decode([new(1, 1, 0)]), "0", walSequence: 6);
        _time.Advance(TimeSpan.FromSeconds(1.9));
        Assert.Empty(assembler.TakeDue());
        _time.Advance(TimeSpan.FromSeconds(0.2));

        var sealedTrace = Assert.Single(assembler.TakeDue());
        Assert.Equal(SealReason.Complete, sealedTrace.Reason);
        Assert.Equal(3, sealedTrace.Buffer.Spans.Count);
        Assert.Equal(5, sealedTrace.Buffer.LowestWalSequence);
        Assert.Equal(SpanBatches.SpanIdOf(1), sealedTrace.Buffer.Spans[sealedTrace.Buffer.RootIndex].SpanId);
        Assert.Equal(0, assembler.OpenTraces);
    }

    [Fact]
    public void Root_that_has_not_ended_keeps_the_trace_open_until_the_maximum_age()
    {
        var assembler = new SpanAssembler(Options, _budget, _time);
        assembler.Add(SpanBatches.Decode([new(1, 1, 0, Ended: false), new(1, 2, 1)]), "0", 1);
        _time.Advance(TimeSpan.FromMinutes(4.9));
        Assert.Empty(assembler.TakeDue());
        _time.Advance(TimeSpan.FromMinutes(0.2));

        Assert.Equal(SealReason.MaxAge, Assert.Single(assembler.TakeDue()).Reason);
    }

    [Fact]
    public void Span_sent_twice_is_kept_once()
    {
        var assembler = new SpanAssembler(Options, _budget, _time);
        Assert.Equal((2, 0), Counts(assembler.Add(SpanBatches.Decode([new(1, 1, 0), new(1, 2, 1)]), "0", 1)));
        Assert.Equal((1, 1), Counts(assembler.Add(SpanBatches.Decode([new(1, 2, 1), new(1, 3, 1)]), "0", 2)));

        var buffer = Assert.Single(assembler.TakeAll()).Buffer;
        Assert.Equal(3, buffer.Spans.Count);
        Assert.Equal(1, buffer.DuplicateSpans);
    }

    [Fact]
    public void Same_trace_id_in_two_experiments_is_two_traces()
    {
        var assembler = new SpanAssembler(Options, _budget, _time);
        assembler.Add(SpanBatches.Decode([new(1, 1, 0)]), "a", 1);
        assembler.Add(SpanBatches.Decode([new(1, 1, 0)]), "b", 2);

        Assert.Equal(2, assembler.OpenTraces);
        Assert.Equal(["a", "b"], assembler.TakeAll().Select(t => t.Buffer.Key.ExperimentId).Order());
    }

    [Fact]
    public void Trace_larger_than_a_part_is_sealed_in_parts_and_nothing_is_lost()
    {
        var assembler = new SpanAssembler(Options with { MaxSpansPerPart = 10 }, _budget, _time);
        assembler.Add(SpanBatches.Decode(Enumerable.Range(2, 24).Select(i => new TestSpan(1, i, 1))), "0", 1);

        var parts = assembler.TakeDue();
        Assert.Equal(2, parts.Count);
        Assert.All(parts, p => Assert.Equal(SealReason.PartFull, p.Reason));
        var rest = Assert.Single(assembler.TakeAll());
        Assert.Equal(24, parts.Sum(p => p.Buffer.Spans.Count) + rest.Buffer.Spans.Count);
    }

    [Fact]
    public void The_part_after_a_full_part_is_allocated_at_its_size_and_counted_before_it_is_allocated()
    {
        var assembler = new SpanAssembler(Options with { MaxSpansPerPart = 1000 }, _budget, _time);
        var first = assembler.Add(SpanBatches.Decode(Enumerable.Range(2, 1000).Select(i => new TestSpan(1, i, 1))), "0", 1);
        var full = Assert.Single(assembler.TakeDue()).Buffer;
        // Doubling stops at the part size (1,000, not 1,024): a part never holds more spans than that.
        Assert.Equal(1000, full.Spans.Capacity);

        // The next part starts at the full part's counts (spans capped at the part size), its whole footprint counted
        // in the budget at once, so adding its spans grows nothing until it passes that size.
        var usedBefore = _budget.UsedBytes;
        var second = assembler.Add(SpanBatches.Decode(Enumerable.Range(1002, 1000).Select(i => new TestSpan(1, i, 1))), "0", 2);
        var next = Assert.Single(assembler.TakeDue()).Buffer;
        Assert.Equal(1000, next.Spans.Capacity);
        Assert.Equal(Math.Max(8, full.Attributes.Count + (full.Attributes.Count / 8)), next.Attributes.Capacity);
        Assert.Equal(full.Arena.Length + (full.Arena.Length / 8), next.Arena.Capacity);
        Assert.Equal(next.FootprintBytes, next.AccountedBytes);
        Assert.Equal(usedBefore + second.GrownBytes + TraceBuffer.EmptyFootprintBytes(full.NextPartCapacity(1000)), _budget.UsedBytes);
        Assert.True(second.GrownBytes < first.GrownBytes / 4, $"the presized part grew {second.GrownBytes} bytes, the first {first.GrownBytes}");
        Assert.Equal(2000, full.Spans.Count + next.Spans.Count);
    }

    [Fact]
    public void The_part_after_a_full_part_starts_small_when_the_budget_has_no_room_for_it()
    {
        var budget = new MemoryBudget(4L << 20);
        var assembler = new SpanAssembler(Options with { MaxSpansPerPart = 1000 }, budget, _time);
        assembler.Add(SpanBatches.Decode(Enumerable.Range(2, 1000).Select(i => new TestSpan(1, i, 1))), "0", 1);
        Assert.Single(assembler.TakeDue());
        budget.ForceReserve(budget.LimitBytes - budget.UsedBytes);

        assembler.Add(SpanBatches.Decode([new(1, 5000, 1)]), "0", 2);
        var open = Assert.Single(assembler.TakeAll()).Buffer;
        Assert.True(open.Spans.Capacity < 16, $"capacity {open.Spans.Capacity}");
        Assert.Equal(open.FootprintBytes, open.AccountedBytes);
    }

    [Fact]
    public void A_part_size_not_used_within_the_idle_period_is_forgotten()
    {
        var assembler = new SpanAssembler(Options with { MaxSpansPerPart = 100 }, _budget, _time);
        assembler.Add(SpanBatches.Decode(Enumerable.Range(2, 100).Select(i => new TestSpan(1, i, 1))), "0", 1);
        Assert.Single(assembler.TakeDue());
        _time.Advance(Options.IdleAfterRootEnd);
        Assert.Empty(assembler.TakeDue());

        assembler.Add(SpanBatches.Decode([new(1, 500, 1)]), "0", 2);
        Assert.True(Assert.Single(assembler.TakeAll()).Buffer.Spans.Capacity < 16);
    }

    [Fact]
    public void Memory_pressure_takes_the_oldest_traces_first()
    {
        var assembler = new SpanAssembler(Options, _budget, _time);
        for (var trace = 1; trace <= 5; trace++)
        {
            assembler.Add(SpanBatches.Decode([new(trace, 1, 0, Ended: false)]), "0", trace);
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        var taken = assembler.TakeOldest(bytesToFree: 1);
        Assert.Equal(SpanBatches.TraceIdOf(1), Assert.Single(taken).Buffer.Key.TraceId);
        Assert.Equal(SealReason.MemoryPressure, taken[0].Reason);
        Assert.Equal(2, assembler.LowestWalSequence());
        Assert.Equal(2, assembler.TakeOldest(bytesToFree: taken[0].Buffer.AccountedBytes + 1).Count);
    }

    [Fact]
    public void Buffers_are_counted_in_the_budget_until_released_after_sealing()
    {
        var assembler = new SpanAssembler(Options, _budget, _time);
        assembler.Add(SpanBatches.Decode(Enumerable.Range(1, 50).Select(i => new TestSpan(i % 5, i, 0))), "0", 1);
        var all = assembler.TakeAll();

        Assert.Equal(all.Sum(t => t.Buffer.AccountedBytes), _budget.UsedBytes);
        Assert.All(all, t => Assert.Equal(t.Buffer.FootprintBytes, t.Buffer.AccountedBytes));
        foreach (var sealedTrace in all)
        {
            assembler.Release(sealedTrace);
        }

        Assert.Equal(0, _budget.UsedBytes);
    }

    [Fact]
    public async Task Concurrent_adds_lose_nothing()
    {
        var assembler = new SpanAssembler(Options, _budget, _time);
        await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(() =>
        {
            for (var i = 0; i < 50; i++)
            {
                var trace = (worker * 1000) + i;
                assembler.Add(SpanBatches.Decode([new(trace, 1, 0), new(trace, 2, 1), new(trace % 7, 100 + (worker * 1000) + i, 1)]), "0", i + 1);
            }
        })));

        var all = assembler.TakeAll();
        Assert.Equal(8 * 50 * 3, all.Sum(t => t.Buffer.Spans.Count));
    }

    [Fact]
    public void Any_arrival_order_and_seal_timing_stores_every_span_once()
    {
        // Spans of 4 traces arrive in random order, in random batch sizes, with random time passing and sealing
        // between batches: the union of everything sealed is exactly the set sent, with no span twice in one buffer.
        var inputs =
            from order in Gen.Shuffle(AllSpans())
            from batchSizes in Gen.Choose(1, 5).ArrayOf(40)
            from pausesMs in Gen.Choose(0, 3000).ArrayOf(40)
            from partSize in Gen.Elements(1, 5, 100)
            select (order, batchSizes, pausesMs, partSize);
        Prop.ForAll(
            Arb.From(inputs),
            input =>
            {
                var (order, batchSizes, pausesMs, partSize) = input;
                var time = new ManualTime();
                var assembler = new SpanAssembler(Options with { MaxSpansPerPart = partSize }, new MemoryBudget(256L << 20), time);
                var sealedSpans = new List<(int Trace, ulong Span)>();
                var at = 0;
                for (var step = 0; at < order.Length; step++)
                {
                    var size = batchSizes[step % batchSizes.Length];
                    assembler.Add(SpanBatches.Decode(order.Skip(at).Take(size)), "0", step + 1);
                    at += size;
                    time.Advance(TimeSpan.FromMilliseconds(pausesMs[step % pausesMs.Length]));
                    sealedSpans.AddRange(Spans(assembler.TakeDue()));
                }

                sealedSpans.AddRange(Spans(assembler.TakeAll()));
                var sent = order.Select(s => ((int)SpanBatches.TraceIdOf(s.Trace).Low, SpanBatches.SpanIdOf(s.Span).Value)).Order().ToList();
                return sent.SequenceEqual(sealedSpans.Order());
            }).QuickCheckThrowOnFailure();
    }

    private static (int Added, int Duplicates) Counts(AddResult result) => (result.Added, result.Duplicates);

    private static TestSpan[] AllSpans() =>
        [.. Enumerable.Range(1, 4).SelectMany(trace => Enumerable.Range(1, 6).Select(span => new TestSpan(trace, (trace * 100) + span, span == 1 ? 0 : (trace * 100) + 1)))];

    private static IEnumerable<(int Trace, ulong Span)> Spans(List<SealedTrace> sealedTraces) =>
        sealedTraces.SelectMany(t => Enumerable.Range(0, t.Buffer.Spans.Count).Select(i => ((int)t.Buffer.Key.TraceId.Low, t.Buffer.Spans[i].SpanId.Value)));
}
