using FsCheck;
using FsCheck.Fluent;
using TraceStore.Testing;

namespace TraceStore.Query.Tests.Recovery;

/// <summary>
/// Traces whose spans arrive across requests, out of order, with the root first or last, around seals (late spans)
/// and restarts, resent by clients: after everything is sealed, get-trace returns exactly the spans sent (ids,
/// parents, names, times, status, attributes, events, inputs and outputs), each once, and the summary MLflow's rules
/// give for the whole trace. Everything runs through <c>TraceStore.IngestAsync</c>, the WAL, the assembler, the
/// sealer, segments and <c>TraceReader</c>; expectations come from the generated model
/// (<see cref="TraceExpectations"/>).
/// </summary>
public sealed class ArrivalOrderTests
{
    /// <summary>Cases of the property: each opens a store, ingests, seals and reads (about 0.3-1 s in Debug).</summary>
    private const int Cases = 40;

    [Fact]
    public void Any_arrival_order_seal_timing_resend_and_restart_stores_exactly_the_traces_sent()
    {
        var scenarios =
            from seed in Gen.Choose(0, int.MaxValue)
            from traces in Gen.Choose(1, 6)
            from partSpans in Gen.Elements(2, 3, 10_000)
            from sealPercent in Gen.Choose(0, 60)
            from resendPercent in Gen.Choose(0, 30)
            from restarts in Gen.Choose(0, 2)
            select new ArrivalScenario(seed, traces, partSpans, sealPercent, resendPercent, restarts);
        Check.One(
            Config.QuickThrowOnFailure.WithMaxTest(Cases),
            Prop.ForAll(Arb.From(scenarios), scenario =>
            {
                var (traces, steps) = scenario.Build();
                using var folder = new TempDirectory("arrival");
                ArrivalRun.Execute(folder.Path, scenario.PartSpans, traces, steps);
            }));
    }

    [Fact]
    public void Root_first_then_children_in_later_requests() =>
        Run(ArrivalStep.Send((0, 0)), ArrivalStep.Send((0, 1), (0, 2)), ArrivalStep.Send((0, 3)));

    [Fact]
    public void Root_last_after_its_children() =>
        Run(ArrivalStep.Send((0, 1)), ArrivalStep.Send((0, 2), (0, 3)), ArrivalStep.Send((0, 0)));

    [Fact]
    public void Root_in_a_late_request_after_the_children_were_sealed() =>
        Run(ArrivalStep.Send((0, 1), (0, 2)), ArrivalStep.Seal, ArrivalStep.Send((0, 3)), ArrivalStep.Seal, ArrivalStep.Send((0, 0)));

    [Fact]
    public void Spans_resent_after_the_trace_was_sealed_and_after_a_restart_are_kept_once() =>
        Run(
            ArrivalStep.Send((0, 0), (0, 1), (0, 2), (0, 3)),
            ArrivalStep.Seal,
            ArrivalStep.Send((0, 2)),
            ArrivalStep.Seal,
            ArrivalStep.Restart,
            ArrivalStep.Send((0, 1), (0, 3)));

    [Fact]
    public void Trace_open_across_restarts_comes_back_from_the_wal_whole() =>
        Run(ArrivalStep.Send((0, 1)), ArrivalStep.Restart, ArrivalStep.Send((0, 0)), ArrivalStep.Restart, ArrivalStep.Send((0, 2), (0, 3)));

    [Fact]
    public void Trace_sealed_in_parts_of_two_spans_reads_back_whole_with_one_summary()
    {
        var traces = TraceModels.Generate(new Random(7), traceCount: 1, spansPerTrace: 4);
        using var folder = new TempDirectory("arrival");
        ArrivalRun.Execute(folder.Path, partSpans: 2, traces, [ArrivalStep.Send((0, 3), (0, 1), (0, 2)), ArrivalStep.Send((0, 0))]);
    }

    /// <summary>One trace of four spans (a root and three others), sent as <paramref name="steps"/> say; parts as large
    /// as the default.</summary>
    private static void Run(params ArrivalStep[] steps)
    {
        var traces = TraceModels.Generate(new Random(steps.Length), traceCount: 1, spansPerTrace: 4);
        using var folder = new TempDirectory("arrival");
        ArrivalRun.Execute(folder.Path, partSpans: 10_000, traces, steps);
    }
}
