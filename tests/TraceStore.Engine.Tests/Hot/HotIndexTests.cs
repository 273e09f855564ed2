using Google.Protobuf;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Hot;
using TraceStore.Engine.Segments;
using TraceStore.Engine.Tests.Assembly;
using TraceStore.Engine.Traces;
using TraceStore.Testing;
using static TraceStore.Engine.Tests.Assembly.OtlpTrace;
using OtlpSpan = OpenTelemetry.Proto.Trace.V1.Span;
using OtlpStatusCode = OpenTelemetry.Proto.Trace.V1.Status.Types.StatusCode;

namespace TraceStore.Engine.Tests.Hot;

/// <summary>The hot index over a real assembler, sealer, segment writer and catalog, moved along by a manual clock:
/// where a trace is (open, filled part, pending, committed) is set by the test, never by timing.</summary>
public sealed class HotIndexTests : IDisposable
{
    private readonly ManualTime _time = new();
    private readonly SealingPipeline _pipeline;

    // Finished traces wait for 30 s or a million spans before they are written: the pending window stays open until
    // the test moves the clock.
    public HotIndexTests() => _pipeline = new SealingPipeline("hot-index", 64L << 20, new AssemblerOptions { MaxSpansPerPart = 3 }, new SealerOptions { SegmentTargetSpans = 1_000_000, SegmentMaxDelay = TimeSpan.FromSeconds(30) }, _time);

    public void Dispose() => _pipeline.Dispose();

    [Fact]
    public void Open_trace_is_in_progress_until_its_root_arrives_ended_then_takes_the_roots_state()
    {
        Ingest(Span(2, 1, "child", status: OtlpStatusCode.Ok));
        var before = HotSummary.Of(_pipeline.Hot.Find(Key.TraceId)!.Read());
        Assert.Equal(TraceState.InProgress, before.State);
        Assert.Null(before.TraceName);
        Assert.Equal(1, before.SpanCount);

        Ingest(Span(1, 0, "root", status: OtlpStatusCode.Error));
        var after = HotSummary.Of(_pipeline.Hot.Find(Key.TraceId)!.Read());
        Assert.Equal(TraceState.Error, after.State);
        Assert.Equal("root", after.TraceName);
        Assert.Equal(2, after.SpanCount);
    }

    [Fact]
    public void Root_that_has_not_ended_keeps_the_trace_in_progress()
    {
        Ingest(Span(1, 0, "root", end: 0, status: OtlpStatusCode.Ok), Span(2, 1, "child"));

        var summary = HotSummary.Of(_pipeline.Hot.Find(Key.TraceId)!.Read());
        Assert.Equal(TraceState.InProgress, summary.State);
        Assert.Equal("root", summary.TraceName);

        // Sealed as it is (flush), the trace reads with the root's status, as MLflow logs it.
        Assert.Equal(1, _pipeline.Sealer.SealNow(everything: true));
        Assert.Null(_pipeline.Hot.Find(Key.TraceId));
    }

    [Fact]
    public void Trace_taken_by_the_sealer_and_not_yet_committed_is_found_in_the_pending_snapshot()
    {
        Ingest(Root(), Span(2, 1, "child"));
        _time.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(0, _pipeline.Sealer.SealNow());
        Assert.Equal(0, _pipeline.Assembler.OpenTraces);
        Assert.Single(_pipeline.Sealer.PendingSnapshot());
        Assert.Empty(_pipeline.Catalog.Segments());

        var pending = _pipeline.Hot.Find(Key.TraceId);
        Assert.NotNull(pending);
        Assert.Equal(2, pending.Read().Spans.Count);
        Assert.Equal(TraceState.Ok, HotSummary.Of(pending.Read()).State);

        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(1, _pipeline.Sealer.SealNow());
        Assert.Empty(_pipeline.Sealer.PendingSnapshot());
        Assert.Null(_pipeline.Hot.Find(Key.TraceId));
        Assert.Single(_pipeline.Catalog.SegmentsHolding(Key.TraceId.ToMlflowId()));
    }

    [Fact]
    public void Trace_sealed_right_after_the_assembler_read_is_still_read_from_the_part_found_there()
    {
        Ingest(Root(), Span(2, 1, "child"));
        _pipeline.Hot.AfterAssemblerRead = () => Assert.Equal(1, _pipeline.Sealer.SealNow(everything: true));

        var found = _pipeline.Hot.Find(Key.TraceId);

        // The part found open was taken, written and committed meanwhile: it no longer changes, so it is read as it
        // is, and the catalog read that follows finds it too (readers keep each span once).
        Assert.NotNull(found);
        Assert.Equal(2, found.Read().Spans.Count);
        Assert.Single(_pipeline.Catalog.SegmentsHolding(Key.TraceId.ToMlflowId()));
    }

    [Fact]
    public void Pending_trace_committed_between_the_assembler_read_and_the_pending_read_is_in_the_catalog_read_after()
    {
        Ingest(Root(), Span(2, 1, "child"));
        _time.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(0, _pipeline.Sealer.SealNow());
        Assert.Single(_pipeline.Sealer.PendingSnapshot());
        _time.Advance(TimeSpan.FromSeconds(30));
        _pipeline.Hot.AfterAssemblerRead = () => Assert.Equal(1, _pipeline.Sealer.SealNow());

        // Not in the assembler when read, no longer pending when read: committed, so the catalog (read after) has it.
        Assert.Null(_pipeline.Hot.Find(Key.TraceId));
        Assert.Single(_pipeline.Catalog.SegmentsHolding(Key.TraceId.ToMlflowId()));
    }

    [Fact]
    public void Filled_parts_pending_parts_and_the_open_buffer_of_one_trace_read_as_one_with_each_span_once()
    {
        // Parts of 3 spans: the first three fill a part; the next request (with a retry of span 2) opens a new one.
        Ingest(Root(), Span(2, 1, "a"), Span(3, 1, "b"));
        Ingest(Span(2, 1, "a"), Span(4, 1, "c"));
        var found = _pipeline.Hot.Find(Key.TraceId)!;
        Assert.Equal(2, found.PartCount);
        Assert.Equal([1UL, 2, 3, 4], SpanIds(found.Read()));

        // The filled part goes to the sealer (pending); the open one stays.
        Assert.Equal(0, _pipeline.Sealer.SealNow());
        Assert.Single(_pipeline.Sealer.PendingSnapshot());
        Assert.Equal(1, _pipeline.Assembler.OpenTraces);
        var split = _pipeline.Hot.Find(Key.TraceId)!;
        Assert.Equal(2, split.PartCount);
        Assert.Equal([1UL, 2, 3, 4], SpanIds(split.Read()));
        Assert.Equal(4, HotSummary.Of(split.Read()).SpanCount);
    }

    [Fact]
    public void Reading_an_open_trace_copies_it_so_later_spans_do_not_change_what_was_read()
    {
        Ingest(Root(), Span(2, 1, "a"));
        var found = _pipeline.Hot.Find(Key.TraceId)!;
        var first = found.Read();

        Ingest(Span(3, 1, "b"));
        Assert.Equal(2, first.Spans.Count);
        Assert.Equal(3, found.Read().Spans.Count);
    }

    [Fact]
    public void Snapshot_lists_each_hot_trace_once_and_filters_by_experiment()
    {
        Ingest(Root(), Span(2, 1, "a"), Span(3, 1, "b"));
        Ingest(Span(4, 1, "c"));
        var other = OtherTrace(Span(1, 0, "other root"));
        _pipeline.Assembler.Add(DecodedBatches.Decode(Request("svc", other)), "other-experiment", walSequence: 9);
        Assert.Equal(0, _pipeline.Sealer.SealNow());

        var all = _pipeline.Hot.Snapshot();
        Assert.Equal(2, all.Count);
        Assert.Equal(4, all.Single(t => t.TraceId == Key.TraceId).Read().Spans.Count);

        var one = Assert.Single(_pipeline.Hot.Snapshot(key => key.ExperimentId == "other-experiment"));
        Assert.Equal("other-experiment", one.Key.ExperimentId);
    }

    private void Ingest(params OtlpSpan[] spans) => _pipeline.Assembler.Add(DecodedBatches.Decode(Request("svc", spans)), ExperimentId, walSequence: 1);

    private static OtlpSpan OtherTrace(OtlpSpan span)
    {
        span.TraceId = ByteString.CopyFrom(Convert.FromHexString("1234567890abcdef1234567890abcdef"));
        return span;
    }

    private static List<ulong> SpanIds(TraceBuffer buffer)
    {
        var ids = new List<ulong>();
        foreach (ref readonly var span in buffer.Spans.AsSpan())
        {
            ids.Add(span.SpanId.Value);
        }

        ids.Sort();
        return ids;
    }
}
