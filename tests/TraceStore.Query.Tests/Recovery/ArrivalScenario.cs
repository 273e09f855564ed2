using TraceStore.Engine;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Ingest;
using TraceStore.Engine.Segments;
using TraceStore.Protocol.Content;
using TraceStore.Query.Traces;

namespace TraceStore.Query.Tests.Recovery;

internal enum StepKind
{
    /// <summary>Ingest the step's spans (one request per experiment among them).</summary>
    Send,

    /// <summary><c>SealAll</c>: every open trace is written to a segment now.</summary>
    Seal,

    /// <summary>Close the store and open it again: open traces come back from the WAL.</summary>
    Restart,
}

/// <summary>One step of an arrival scenario; <see cref="Spans"/> are (trace index, span index) into the model.</summary>
internal sealed record ArrivalStep(StepKind Kind, IReadOnlyList<(int Trace, int Span)> Spans)
{
    public static readonly ArrivalStep Seal = new(StepKind.Seal, []);
    public static readonly ArrivalStep Restart = new(StepKind.Restart, []);

    public static ArrivalStep Send(params (int Trace, int Span)[] spans) => new(StepKind.Send, spans);

    public override string ToString() => Kind == StepKind.Send ? $"Send[{string.Join(" ", Spans.Select(s => $"{s.Trace}.{s.Span}"))}]" : Kind.ToString();
}

/// <summary>
/// The knobs of one random case of the arrival-order property (what FsCheck generates and shrinks): the seed the
/// traces and their arrival are drawn from, how many traces, the assembler's part size (2 and 3 split traces into
/// parts; 10,000 does not), the chances of a seal and of a resend after each request, and how many restarts.
/// </summary>
internal sealed record ArrivalScenario(int Seed, int Traces, int PartSpans, int SealPercent, int ResendPercent, int Restarts)
{
    /// <summary>The traces and the steps that send them: every span once in a random order (per trace, the root
    /// anywhere, first or last among its spans), cut into requests of 1 to 5 spans, with seals, resends of earlier
    /// requests and restarts in between.</summary>
    public (List<ModelTrace> Traces, List<ArrivalStep> Steps) Build()
    {
        var random = new Random(Seed);
        var traces = TraceModels.Generate(random, Traces);
        var order = traces.SelectMany((t, ti) => t.Spans.Select((_, si) => (Trace: ti, Span: si))).OrderBy(_ => random.Next()).ToList();
        for (var ti = 0; ti < traces.Count; ti++)
        {
            var placement = random.Next(3);
            var positions = order.Select((s, at) => (s, at)).Where(x => x.s.Trace == ti).Select(x => x.at).ToList();
            var root = order.FindIndex(s => s.Trace == ti && s.Span == 0);
            var target = placement switch { 1 => positions.Min(), 2 => positions.Max(), _ => root };
            (order[root], order[target]) = (order[target], order[root]);
        }

        var steps = new List<ArrivalStep>();
        var sends = new List<ArrivalStep>();
        for (var at = 0; at < order.Count;)
        {
            var size = Math.Min(random.Next(1, 6), order.Count - at);
            var send = new ArrivalStep(StepKind.Send, order.GetRange(at, size));
            at += size;
            steps.Add(send);
            sends.Add(send);
            if (random.Next(100) < ResendPercent)
            {
                steps.Add(sends[random.Next(sends.Count)]);
            }

            if (random.Next(100) < SealPercent)
            {
                steps.Add(ArrivalStep.Seal);
            }
        }

        for (var i = 0; i < Restarts; i++)
        {
            steps.Insert(random.Next(steps.Count + 1), ArrivalStep.Restart);
        }

        return (traces, steps);
    }
}

/// <summary>Runs arrival steps against a real store in a folder, then seals everything and checks every trace.</summary>
internal static class ArrivalRun
{
    public static void Execute(string folder, int partSpans, IReadOnlyList<ModelTrace> traces, IEnumerable<ArrivalStep> steps)
    {
        var options = new TraceStoreOptions
        {
            DataDirectory = folder,
            Assembler = new AssemblerOptions { MaxSpansPerPart = partSpans },

            // Seals happen where the steps say and nowhere else.
            Sealer = new SealerOptions { Interval = TimeSpan.FromHours(1) },
        };
        var store = Engine.TraceStore.Open(options);
        try
        {
            foreach (var step in steps)
            {
                switch (step.Kind)
                {
                    case StepKind.Send:
                        foreach (var request in step.Spans.Select(s => (Trace: traces[s.Trace], Span: traces[s.Trace].Spans[s.Span])).GroupBy(s => s.Trace.Experiment))
                        {
                            var body = TraceModels.Request(request);
                            var result = store.IngestAsync(new OtlpPayload(body, OtlpPayloadFormat.Protobuf), request.Key).AsTask().GetAwaiter().GetResult();
                            Assert.True(result.Outcome == IngestOutcome.Accepted && result.AcceptedSpans == request.Count(), $"{step}: {result.Outcome} {result.Message}");
                        }

                        break;
                    case StepKind.Seal:
                        store.SealAll();
                        break;
                    case StepKind.Restart:
                        store.DisposeAsync().AsTask().GetAwaiter().GetResult();
                        store = Engine.TraceStore.Open(options);
                        break;
                }
            }

            store.SealAll();
            var duplicated = SegmentsOnDisk.DuplicatedRows(store.Catalog.Segments());
            Assert.True(duplicated.Count == 0, "rows stored twice in one segment:\n" + string.Join("\n", duplicated));
            using var reader = new TraceReader(store.Catalog);
            foreach (var trace in traces)
            {
                TraceExpectations.Check(trace, reader.Get(trace.MlflowId));
            }
        }
        finally
        {
            store.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }
}
