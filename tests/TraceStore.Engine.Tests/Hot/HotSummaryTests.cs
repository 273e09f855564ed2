using TraceStore.DuckDb;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Hot;
using TraceStore.Engine.Segments;
using TraceStore.Engine.Traces;
using TraceStore.Protocol.GenAi;
using TraceStore.Testing;
using static TraceStore.Engine.Tests.Assembly.OtlpTrace;
using OtlpStatusCode = OpenTelemetry.Proto.Trace.V1.Status.Types.StatusCode;

namespace TraceStore.Engine.Tests.Hot;

/// <summary>The summary of a trace with a sealed part (written and read back from a real segment) and unsealed late
/// spans, against the summary of all its spans at once: equal on every field but the state of an open root.</summary>
public sealed class HotSummaryTests : IDisposable
{
    private readonly TempDirectory _folder = new("hot-summary");
    private readonly SegmentCatalog _catalog;
    private readonly DuckDbDatabase _database = DuckDbDatabase.OpenInMemory();
    private readonly DuckDbConnection _connection;

    public HotSummaryTests()
    {
        _catalog = SegmentCatalog.Open(_folder.Path);
        _connection = _database.Connect();
    }

    public void Dispose()
    {
        _connection.Dispose();
        _database.Dispose();
        _catalog.Dispose();
        _folder.Dispose();
    }

    [Fact]
    public void Sealed_part_and_late_spans_combine_to_the_summary_of_all_spans_on_every_exact_field()
    {
        byte[] early = Request(
            "frontend",
            Root("agent", attributes: [("mlflow.spanInputs", "{\"question\": \"why\"}"), ("mlflow.spanOutputs", "\"because\""), ("session.id", "s-1")]),
            Span(2, 1, "llm", start: T0 + (2 * Ms), end: T0 + (5 * Ms), attributes: [("gen_ai.request.model", "gpt-4o"), ("openinference.span.kind", "LLM")]),
            Span(3, 1, "tool", start: T0 + (3 * Ms), end: T0 + (4 * Ms), status: OtlpStatusCode.Error));
        byte[] late = Request(
            "backend",
            Span(3, 1, "tool", start: T0 + (3 * Ms), end: T0 + (4 * Ms), status: OtlpStatusCode.Error), // a retry of a sealed span
            Span(4, 1, "late llm", start: T0 - (7 * Ms), end: T0 + (90 * Ms), status: OtlpStatusCode.Error, attributes: [("gen_ai.request.model", "claude"), ("user.id", "u-9")]),
            Span(5, 4, "late tool", start: T0 + (8 * Ms), end: T0 + (9 * Ms)));
        Seal(Buffer(early));
        var hot = Buffer(late);

        var combined = HotSummary.Combine(SealedParts(), hot);

        var all = Buffer(early, late);
        var expected = TraceSummaryBuilder.Build(all);
        Assert.Equal(5, expected.SpanCount);
        Assert.Equal(expected.RequestTimeMs, combined.RequestTimeMs);
        Assert.Equal(expected.ExecutionDurationMs, combined.ExecutionDurationMs);
        Assert.Equal(expected.State, combined.State);
        Assert.Equal(expected.TraceName, combined.TraceName);
        Assert.Equal(expected.RequestPreview, combined.RequestPreview);
        Assert.Equal(expected.ResponsePreview, combined.ResponsePreview);
        Assert.Equal(expected.SessionId, combined.SessionId);
        Assert.Equal(expected.UserId, combined.UserId);
        Assert.Equal(expected.SpanCount, combined.SpanCount);
        Assert.Equal(expected.ErrorSpanCount, combined.ErrorSpanCount);
        Assert.Equal(expected.ServiceNames, combined.ServiceNames);
        Assert.Equal(expected.Models, combined.Models);
        Assert.Equal(expected.SpanTypes, combined.SpanTypes);
        Assert.Equal(expected.SizeStats, combined.SizeStats);
        Assert.Equal(expected.Tags, combined.Tags);
        Assert.Equal(expected.Metadata, combined.Metadata);
    }

    [Theory]
    [InlineData("usage on the hot root, under it a hot span without, under that a sealed span with")]
    [InlineData("usage on the sealed root and on its hot child")]
    public void Token_usage_follows_the_nested_span_rule_across_sealed_and_hot_spans(string shape)
    {
        var (sealedRequest, hotRequest) = shape.StartsWith("usage on the hot root", StringComparison.Ordinal)
            ? (Request("svc", Span(3, 2, "sdk call", attributes: [Usage(10, 5)])),
               Request("svc", Root("agent", attributes: [Usage(100, 50)]), Span(2, 1, "chain")))
            : (Request("svc", Root("agent", attributes: [Usage(100, 50)])),
               Request("svc", Span(2, 1, "llm", attributes: [Usage(10, 5)])));
        Seal(Buffer(sealedRequest));

        var combined = HotSummary.Combine(SealedParts(), Buffer(hotRequest));

        var expected = TraceSummaryBuilder.Build(Buffer(sealedRequest, hotRequest));
        Assert.Equal(new TokenUsage(100, 50, 150), expected.TokenUsage);
        Assert.Equal(expected.TokenUsage, combined.TokenUsage);
        Assert.Equal(expected.Metadata[TraceInfoKeys.TokenUsage], combined.Metadata[TraceInfoKeys.TokenUsage]);
        Assert.Equal(expected.SizeStats, combined.SizeStats);
    }

    [Fact]
    public void Late_root_decides_the_state_and_is_in_progress_until_it_has_ended()
    {
        var sealedSummary = Seal(Buffer(Request("svc", Span(2, 1, "child"))));
        Assert.Equal(TraceState.InProgress, sealedSummary.State);

        var openRoot = Buffer(Request("svc", Span(1, 0, "root", end: 0, status: OtlpStatusCode.Error)));
        var whileOpen = HotSummary.Combine(SealedParts(), openRoot);
        Assert.Equal(TraceState.InProgress, whileOpen.State);
        Assert.Equal("root", whileOpen.TraceName);
        Assert.Equal(2, whileOpen.SpanCount);

        var endedRoot = Buffer(Request("svc", Span(1, 0, "root", status: OtlpStatusCode.Error)));
        var ended = HotSummary.Combine(SealedParts(), endedRoot);
        Assert.Equal(TraceState.Error, ended.State);
        Assert.Equal("root", ended.Tags[TraceInfoKeys.TraceNameTag]);
    }

    [Fact]
    public void Hot_spans_that_are_all_sealed_already_leave_the_sealed_summary_as_it_is()
    {
        var request = Request("svc", Root(), Span(2, 1, "child"));
        var sealedSummary = Seal(Buffer(request));
        var retry = Buffer(request);

        var parts = SealedParts();
        var combined = HotSummary.Combine(parts, retry);

        Assert.Same(parts.Summary, combined);
        Assert.Equal(sealedSummary.TokenUsage, combined.TokenUsage);
        Assert.Equal(2, combined.SpanCount);
    }

    /// <summary>Writes <paramref name="buffer"/> as a segment, commits it, and reads its summary back.</summary>
    private TraceSummary Seal(TraceBuffer buffer)
    {
        using (var writer = new SegmentWriter(_catalog.SegmentsFolder))
        {
            _catalog.Commit(writer.Write(_catalog.NextSealSequence(), [buffer]));
        }

        var id = Key.TraceId.ToMlflowId();
        return SealedTraceQueries.LatestSummaries(_connection, _catalog.SegmentsHolding(id), [id])[id].Summary;
    }

    /// <summary>What the committed segments hold of the trace, read back as reads do.</summary>
    private SealedTraceParts SealedParts()
    {
        var id = Key.TraceId.ToMlflowId();
        return SealedTraceParts.Load(_connection, _catalog.SegmentsHolding(id), id)!;
    }

    private static (string Key, string Value) Usage(long input, long output) =>
        ("mlflow.chat.tokenUsage", $"{{\"input_tokens\": {input}, \"output_tokens\": {output}, \"total_tokens\": {input + output}}}");
}
