using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Trace.V1;
using TraceStore.Engine.Admission;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Segments;
using TraceStore.Protocol.Model;

namespace TraceStore.Query.Tests.Traces;

/// <summary>A store folder with one committed segment: traces 1, 2, 3 in experiment "exp" starting at
/// <see cref="BaseMs"/> + 10, 20, 30 ms, and trace 4 in experiment "other" at + 5 ms; one root span each.</summary>
internal static class SealedTraces
{
    public const long BaseMs = 1_763_700_000_000;

    public static SegmentCatalog Create(string folder)
    {
        var catalog = SegmentCatalog.Open(folder);
        var assembler = new SpanAssembler(new AssemblerOptions(), new MemoryBudget(64L << 20));
        assembler.Add(Request((1, BaseMs + 10), (2, BaseMs + 20), (3, BaseMs + 30)), "exp", walSequence: 1);
        assembler.Add(Request((4, BaseMs + 5)), "other", walSequence: 2);
        using var writer = new SegmentWriter(catalog.SegmentsFolder);
        catalog.Commit(writer.Write(1, [.. assembler.TakeAll().Select(t => t.Buffer)]));
        return catalog;
    }

    public static string Id(int trace) => "tr-" + TraceIdOf(trace).ToHex();

    public static TraceId TraceIdOf(int trace) => new(0xABCD_0000_0000_0000UL, (ulong)trace);

    /// <summary>One root span per trace, starting at the given Unix millisecond.</summary>
    public static SpanBatch Request(params (int Trace, long StartMs)[] traces)
    {
        var scope = new ScopeSpans();
        foreach (var (trace, startMs) in traces)
        {
            var traceId = new byte[16];
            TraceIdOf(trace).WriteBytes(traceId);
            scope.Spans.Add(new Span
            {
                TraceId = ByteString.CopyFrom(traceId),
                SpanId = ByteString.CopyFrom([1, 2, 3, 4, 5, 6, 7, (byte)trace]),
                Name = $"root-{trace}",
                StartTimeUnixNano = (ulong)startMs * 1_000_000,
                EndTimeUnixNano = ((ulong)startMs + 5) * 1_000_000,
            });
        }

        var request = new ExportTraceServiceRequest { ResourceSpans = { new ResourceSpans { ScopeSpans = { scope } } } };
        return TraceStore.Testing.DecodedBatches.Decode(request.ToByteArray());
    }
}
