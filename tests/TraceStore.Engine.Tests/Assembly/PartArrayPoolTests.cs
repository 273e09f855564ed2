using TraceStore.Engine.Admission;
using TraceStore.Engine.Assembly;
using TraceStore.Testing;
using static TraceStore.Engine.Tests.Assembly.OtlpTrace;

namespace TraceStore.Engine.Tests.Assembly;

/// <summary>
/// <see cref="PartArrayPool"/> through the assembler: a released part of a large trace lends its arrays to the next
/// part, never while a reader has it pinned, and every part reads exactly its own spans (none of the records or
/// bytes left in a reused array shows through). Parts of 5,000 spans: their arrays take over the pool's 1 MiB floor.
/// </summary>
public sealed class PartArrayPoolTests
{
    private const int PartSpans = 5_000;

    private readonly ManualTime _time = new();
    private readonly MemoryBudget _budget = new(256L << 20);
    private readonly SpanAssembler _assembler;

    public PartArrayPoolTests() =>
        _assembler = new SpanAssembler(new AssemblerOptions { MaxSpansPerPart = PartSpans }, _budget, _time);

    [Fact]
    public void Next_part_reuses_a_released_parts_arrays_and_each_part_reads_exactly_its_own_spans()
    {
        var first = FillPart(firstSpan: 2, tag: "first", attributes: 3);
        var grownAttributes = first.Attributes.Capacity;
        AssertPart(first, firstSpan: 2, tag: "first", attributes: 3);

        _assembler.Release(new SealedTrace(first, SealReason.PartFull));
        Assert.Equal(1, _assembler.Pool.Count);
        Assert.Equal(0, first.Spans.Capacity);
        Assert.Equal(_assembler.Pool.IdleBytes, _budget.UsedBytes);

        // Fewer and shorter attributes than the arrays still hold: none of the first part's may show.
        var second = FillPart(firstSpan: 2 + PartSpans, tag: "2nd", attributes: 1);
        Assert.Equal(grownAttributes, second.Attributes.Capacity);
        Assert.Equal(0, _assembler.Pool.Count);
        AssertPart(second, firstSpan: 2 + PartSpans, tag: "2nd", attributes: 1);

        _assembler.Release(new SealedTrace(second, SealReason.PartFull));
        var third = FillPart(firstSpan: 2 + (2 * PartSpans), tag: "third-part", attributes: 3);
        Assert.Equal(grownAttributes, third.Attributes.Capacity);
        AssertPart(third, firstSpan: 2 + (2 * PartSpans), tag: "third-part", attributes: 3);
        _assembler.Release(new SealedTrace(third, SealReason.PartFull));

        // The trace goes quiet: its next part is no longer expected, the pool lets go and the budget is empty.
        Assert.Equal(1, _assembler.Pool.Count);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Empty(_assembler.TakeDue());
        Assert.Equal(0, _assembler.Pool.Count);
        Assert.Equal(0, _budget.UsedBytes);
    }

    [Fact]
    public void A_part_a_reader_has_pinned_is_never_lent_and_stays_intact()
    {
        var first = FillPart(firstSpan: 2, tag: "first", attributes: 3);
        Assert.True(first.TryPin());

        _assembler.Release(new SealedTrace(first, SealReason.PartFull));
        Assert.Equal(0, _assembler.Pool.Count);
        Assert.Equal(0, _budget.UsedBytes);

        var second = FillPart(firstSpan: 2 + PartSpans, tag: "2nd", attributes: 1);
        AssertPart(first, firstSpan: 2, tag: "first", attributes: 3);
        AssertPart(second, firstSpan: 2 + PartSpans, tag: "2nd", attributes: 1);
        first.Unpin();

        // Unpinned, it was still never retired: a reader may pin it again, and it is unchanged.
        _assembler.Release(new SealedTrace(second, SealReason.PartFull));
        Assert.Equal(1, _assembler.Pool.Count);
        var third = FillPart(firstSpan: 2 + (2 * PartSpans), tag: "third", attributes: 2);
        Assert.True(first.TryPin());
        AssertPart(first, firstSpan: 2, tag: "first", attributes: 3);
        AssertPart(third, firstSpan: 2 + (2 * PartSpans), tag: "third", attributes: 2);
        first.Unpin();
    }

    [Fact]
    public void A_retired_part_cannot_be_pinned_and_an_unpin_without_a_pin_is_refused()
    {
        var first = FillPart(firstSpan: 2, tag: "first", attributes: 3);
        Assert.Throws<InvalidOperationException>(first.Unpin);
        var pinned = FillPart(firstSpan: 2 + PartSpans, tag: "2nd", attributes: 1);
        Assert.True(pinned.TryPin());
        pinned.Unpin();

        _assembler.Release(new SealedTrace(first, SealReason.PartFull));
        Assert.False(first.TryPin());
        Assert.Equal(0, first.Spans.Count);
    }

    [Fact]
    public void An_ordinary_trace_is_not_kept_and_gives_its_bytes_back()
    {
        _assembler.Add(DecodedBatches.Decode(Request("svc", Root(), Span(2, 1, "child"))), ExperimentId, walSequence: 1);
        var trace = Assert.Single(_assembler.TakeAll());
        _assembler.Release(trace);

        Assert.Equal(0, _assembler.Pool.Count);
        Assert.Equal(0, _budget.UsedBytes);
        Assert.True(trace.Buffer.TryPin());
        Assert.Equal(2, trace.Buffer.Spans.Count);
    }

    [Fact]
    public void Parts_released_after_a_flush_took_everything_are_not_kept()
    {
        var first = FillPart(firstSpan: 2, tag: "first", attributes: 3);
        _assembler.Add(DecodedBatches.Decode(Request("svc", Children(2 + PartSpans, "open", 1)[..10])), ExperimentId, walSequence: 9);
        var rest = Assert.Single(_assembler.TakeAll());

        _assembler.Release(new SealedTrace(first, SealReason.PartFull));
        _assembler.Release(rest);
        Assert.Equal(0, _assembler.Pool.Count);
        Assert.Equal(0, _budget.UsedBytes);
        Assert.True(first.TryPin());
        AssertPart(first, firstSpan: 2, tag: "first", attributes: 3);
    }

    [Fact]
    public void The_pool_keeps_at_most_a_quarter_of_the_budget()
    {
        var small = new MemoryBudget(16L << 20);
        var assembler = new SpanAssembler(new AssemblerOptions { MaxSpansPerPart = PartSpans }, small, _time);
        var parts = new List<TraceBuffer>();
        for (var part = 0; part < 3; part++)
        {
            assembler.Add(DecodedBatches.Decode(Request("svc", Children(2 + (part * PartSpans), "p", 3))), ExperimentId, walSequence: part + 1);
            parts.Add(Assert.Single(assembler.TakeDue()).Buffer);
        }

        foreach (var part in parts)
        {
            assembler.Release(new SealedTrace(part, SealReason.PartFull));
        }

        Assert.InRange(assembler.Pool.Count, 1, 2);
        Assert.InRange(assembler.Pool.IdleBytes, 1, 4L << 20);
        Assert.Equal(assembler.Pool.IdleBytes, small.UsedBytes);
    }

    /// <summary>Adds one full part's spans of the trace (children of span 1 numbered from <paramref name="firstSpan"/>)
    /// and takes the filled part.</summary>
    private TraceBuffer FillPart(int firstSpan, string tag, int attributes)
    {
        _assembler.Add(DecodedBatches.Decode(Request("svc", Children(firstSpan, tag, attributes))), ExperimentId, walSequence: firstSpan);
        var part = Assert.Single(_assembler.TakeDue());
        Assert.Equal(SealReason.PartFull, part.Reason);
        return part.Buffer;
    }

    private static OpenTelemetry.Proto.Trace.V1.Span[] Children(int firstSpan, string tag, int attributes) =>
        [.. Enumerable.Range(firstSpan, PartSpans).Select(id => Span((ulong)id, 1, $"{tag}-{id}", attributes: [.. Enumerable.Range(0, attributes).Select(a => ($"k{a}", (object)Value(tag, id, a)))]))];

    private static string Value(string tag, int span, int attribute) => $"{tag}:{span}:{attribute}";

    private static void AssertPart(TraceBuffer part, int firstSpan, string tag, int attributes)
    {
        Assert.Equal(PartSpans, part.Spans.Count);
        Assert.Equal(PartSpans * attributes, part.Attributes.Count);
        Assert.Equal(0, part.Events.Count);
        Assert.Equal(-1, part.RootIndex);
        for (var i = 0; i < PartSpans; i++)
        {
            var id = firstSpan + i;
            ref readonly var span = ref part.Spans[i];
            Assert.True(part.TryGetSpanIndex(span.SpanId, out var index) && index == i);
            Assert.Equal($"{tag}-{id}", part.GetString(span.Name));
            Assert.Equal(attributes, span.Attributes.Count);
            var stored = part.Attributes.Slice(span.Attributes);
            for (var a = 0; a < attributes; a++)
            {
                Assert.Equal($"k{a}", part.GetString(stored[a].Key));
                Assert.Equal($"\"{Value(tag, id, a)}\"", part.GetString(stored[a].Value));
            }
        }
    }
}
