using TraceStore.DuckDb;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Hot;
using TraceStore.Engine.Segments;
using TraceStore.Engine.Traces;
using TraceStore.Testing;
using static TraceStore.Engine.Tests.Assembly.OtlpTrace;
using OtlpStatusCode = OpenTelemetry.Proto.Trace.V1.Status.Types.StatusCode;

namespace TraceStore.Engine.Tests.Hot;

/// <summary>The summary of a trace with a sealed part (written and read back from a real segment) and unsealed late
/// spans, against the summary of all its spans at once.</summary>
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
        var sealedSummary = Seal(Buffer(early));
        var hot = Buffer(late);

        var combined = HotSummary.Combine(sealedSummary, hot, SealedTraceQueries.SpanIdsAmong(_connection, _catalog.Segments(), Key.TraceId.ToMlflowId(), [.. SpanIdsOf(hot)]));

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
        Assert.Equal(expected.SizeStats.TotalSizeBytes, combined.SizeStats.TotalSizeBytes);
        Assert.Equal(expected.SizeStats.NumSpans, combined.SizeStats.NumSpans);
        Assert.Equal(expected.SizeStats.Max, combined.SizeStats.Max);
        Assert.Equal(expected.Tags, combined.Tags);
        Assert.Equal(expected.Metadata[TraceInfoKeys.Session], combined.Metadata[TraceInfoKeys.Session]);
        Assert.Equal(expected.Metadata[TraceInfoKeys.User], combined.Metadata[TraceInfoKeys.User]);
    }

    [Fact]
    public void Late_root_decides_the_state_and_is_in_progress_until_it_has_ended()
    {
        var sealedSummary = Seal(Buffer(Request("svc", Span(2, 1, "child"))));
        Assert.Equal(TraceState.InProgress, sealedSummary.State);

        var openRoot = Buffer(Request("svc", Span(1, 0, "root", end: 0, status: OtlpStatusCode.Error)));
        var whileOpen = HotSummary.Combine(sealedSummary, openRoot, new HashSet<Protocol.Model.SpanId>());
        Assert.Equal(TraceState.InProgress, whileOpen.State);
        Assert.Equal("root", whileOpen.TraceName);
        Assert.Equal(2, whileOpen.SpanCount);

        var endedRoot = Buffer(Request("svc", Span(1, 0, "root", status: OtlpStatusCode.Error)));
        var ended = HotSummary.Combine(sealedSummary, endedRoot, new HashSet<Protocol.Model.SpanId>());
        Assert.Equal(TraceState.Error, ended.State);
        Assert.Equal("root", ended.Tags[TraceInfoKeys.TraceNameTag]);
    }

    [Fact]
    public void Hot_spans_that_are_all_sealed_already_leave_the_sealed_summary_as_it_is()
    {
        var request = Request("svc", Root(), Span(2, 1, "child"));
        var sealedSummary = Seal(Buffer(request));
        var retry = Buffer(request);

        var combined = HotSummary.Combine(sealedSummary, retry, SealedTraceQueries.SpanIdsAmong(_connection, _catalog.Segments(), Key.TraceId.ToMlflowId(), [.. SpanIdsOf(retry)]));

        Assert.Same(sealedSummary, combined);
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

    private static IEnumerable<Protocol.Model.SpanId> SpanIdsOf(TraceBuffer buffer)
    {
        for (var i = 0; i < buffer.Spans.Count; i++)
        {
            yield return buffer.Spans[i].SpanId;
        }
    }
}
