using TraceStore.Engine.Assembly;
using TraceStore.Engine.Segments;
using TraceStore.Engine.Traces;
using TraceStore.Query.Traces;
using TraceStore.Testing;
using static TraceStore.Query.Tests.Traces.HotSpans;

namespace TraceStore.Query.Tests.Traces;

/// <summary>Reads while a trace is in the sealer's hands (taken from the assembler, not yet committed), over a real
/// assembler, sealer, writer and catalog moved by a manual clock and the hot index's test seams: deterministic.</summary>
public sealed class PendingWindowReadTests : IDisposable
{
    private readonly ManualClock _time = new();
    private readonly SealingPipeline _pipeline;

    public PendingWindowReadTests() => _pipeline = new SealingPipeline("pending-reads", 64L << 20, new AssemblerOptions(), new SealerOptions { SegmentTargetSpans = 1_000_000, SegmentMaxDelay = TimeSpan.FromSeconds(30) }, _time);

    public void Dispose() => _pipeline.Dispose();

    [Fact]
    public void Trace_waiting_for_its_segment_is_read_whole_and_once_even_when_committed_during_the_read()
    {
        _pipeline.Assembler.Add(Batch([new(1, 1, 0, WithInputs: true), new(1, 2, 1, StartNs: 10), new(1, 3, 1, StartNs: 20)]), "0", walSequence: 1);
        _time.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(0, _pipeline.Sealer.SealNow());
        Assert.Single(_pipeline.Sealer.PendingSnapshot());
        Assert.Equal(0, _pipeline.Assembler.OpenTraces);
        Assert.Empty(_pipeline.Catalog.Segments());
        using var reader = new TraceReader(_pipeline.Catalog, _pipeline.Hot);

        var pending = reader.Get(Id(1))!;
        Assert.Equal([SpanHex(1), SpanHex(2), SpanHex(3)], pending.Spans.Select(s => s.SpanId));
        Assert.Equal(TraceState.Ok, pending.Summary.State);
        Assert.Equal(pending.Spans.Select(s => s.SpanId), HotTraceReadTests.AllPages(reader, Id(1), pageSize: 2).Select(s => s.SpanId));

        // Committed after the hot snapshot and before the catalog read: found in both, read once.
        _time.Advance(TimeSpan.FromSeconds(30));
        _pipeline.Hot.AfterSnapshot = () => Assert.Equal(1, _pipeline.Sealer.SealNow());
        var caught = reader.Get(Id(1))!;
        _pipeline.Hot.AfterSnapshot = null;
        Assert.Single(_pipeline.Catalog.SegmentsHolding(Id(1)));
        Assert.Equal(pending.Spans.Select(s => s.SpanId), caught.Spans.Select(s => s.SpanId));
        Assert.Equal(3, caught.Summary.SpanCount);
        Assert.Equal(pending.Spans.Select(s => s.Attributes.Count), caught.Spans.Select(s => s.Attributes.Count));
    }

    [Fact]
    public void Trace_taken_by_the_sealer_right_after_the_assembler_read_is_read_whole()
    {
        _pipeline.Assembler.Add(Batch([new(1, 1, 0), new(1, 2, 1, StartNs: 10)]), "0", walSequence: 1);
        using var reader = new TraceReader(_pipeline.Catalog, _pipeline.Hot);

        // Taken into pending (not written: the clock has not moved) between the assembler read and the pending read.
        _time.Advance(TimeSpan.FromSeconds(3));
        _pipeline.Hot.AfterAssemblerRead = () => Assert.Equal(0, _pipeline.Sealer.SealNow());
        var trace = reader.Get(Id(1));
        _pipeline.Hot.AfterAssemblerRead = null;

        Assert.NotNull(trace);
        Assert.Equal(2, trace.Spans.Count);
        Assert.Single(_pipeline.Sealer.PendingSnapshot());
    }
}
