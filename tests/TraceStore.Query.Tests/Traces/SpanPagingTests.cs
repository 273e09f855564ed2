using TraceStore.Engine.Assembly;
using TraceStore.Engine.Hot;
using TraceStore.Engine.Segments;
using TraceStore.Query.Traces;
using TraceStore.Testing;
using static TraceStore.Query.Tests.Traces.HotSpans;

namespace TraceStore.Query.Tests.Traces;

/// <summary>
/// Paged span reads of one trace spread over three segments written directly (each holds only its own part, with
/// overlaps: spans stored twice, as client retries across seals leave them) and an open part in the assembler that
/// overlaps the last segment. Start times come in groups of seven equal values, so page boundaries fall inside them.
/// </summary>
public sealed class SpanPagingTests : IDisposable
{
    private const int SpanCount = 1_400;

    private readonly SealingPipeline _pipeline;

    public SpanPagingTests() => _pipeline = new SealingPipeline("span-paging", 256L << 20, new AssemblerOptions(), new SealerOptions());

    public void Dispose() => _pipeline.Dispose();

    [Theory]
    [InlineData(10)]
    [InlineData(100)]
    [InlineData(999)]
    public void Pages_return_every_span_once_in_order_across_segments_retried_copies_and_equal_start_times(int pageSize)
    {
        Seal(1, 600);
        Seal(450, 1_000);
        Seal(900, 1_250);
        _pipeline.Assembler.Add(Batch(Spans(1_200, SpanCount)), "0", walSequence: 4);
        Assert.Equal(3, _pipeline.Catalog.SegmentsHolding(Id(1)).Count);
        using var reader = new TraceReader(_pipeline.Catalog, new HotIndex(_pipeline.Assembler, _pipeline.Sealer, _pipeline.Catalog));

        var paged = HotTraceReadTests.AllPages(reader, Id(1), pageSize);

        Assert.Equal(SpanCount, paged.Count);
        Assert.Equal(SpanCount, paged.Select(s => s.SpanId).Distinct().Count());
        for (var i = 1; i < paged.Count; i++)
        {
            var (a, b) = (paged[i - 1], paged[i]);
            Assert.True(a.StartTimeNs < b.StartTimeNs || (a.StartTimeNs == b.StartTimeNs && string.CompareOrdinal(a.SpanId, b.SpanId) < 0), $"{a.SpanId} then {b.SpanId}");
        }

        var whole = reader.Get(Id(1))!;
        Assert.Equal(whole.Spans.Select(Describe), paged.Select(Describe));
    }

    [Fact]
    public void Page_boundary_between_spans_with_the_same_start_time_splits_them_by_span_id()
    {
        _pipeline.Assembler.Add(Batch([new(1, 1, 0), new(1, 9, 1, StartNs: 50), new(1, 4, 1, StartNs: 50), new(1, 6, 1, StartNs: 50)]), "0", walSequence: 1);
        Seal(_pipeline.Assembler.TakeAll());
        _pipeline.Assembler.Add(Batch([new(1, 4, 1, StartNs: 50), new(1, 7, 1, StartNs: 50)]), "0", walSequence: 2);
        using var reader = new TraceReader(_pipeline.Catalog, new HotIndex(_pipeline.Assembler, _pipeline.Sealer, _pipeline.Catalog));

        var pages = new List<IReadOnlyList<string>>();
        string? token = null;
        do
        {
            var page = reader.GetPage(Id(1), pageSize: 2, token)!;
            pages.Add([.. page.Spans.Select(s => s.SpanId)]);
            token = page.NextPageToken;
        }
        while (token is not null);

        Assert.Equal([[SpanHex(1), SpanHex(4)], [SpanHex(6), SpanHex(7)], [SpanHex(9)]], pages);
    }

    [Fact]
    public void Page_size_and_token_are_checked_and_an_unknown_trace_has_no_page()
    {
        Seal(1, 3);
        using var reader = new TraceReader(_pipeline.Catalog, new HotIndex(_pipeline.Assembler, _pipeline.Sealer, _pipeline.Catalog));

        Assert.Equal(QueryErrorCode.InvalidParameterValue, Assert.Throws<TraceStoreQueryException>(() => reader.GetPage(Id(1), 0)).Code);
        Assert.Throws<TraceStoreQueryException>(() => reader.GetPage(Id(1), TraceReader.MaxPageSize + 1));
        Assert.Throws<TraceStoreQueryException>(() => reader.GetPage(Id(1), 10, "not-a-token"));
        Assert.Throws<TraceStoreQueryException>(() => reader.GetPage(Id(1), 10, "AAAAAAAAAAAAAAAAAAAAAAA"));
        Assert.Null(reader.GetPage(Id(2), 10));

        var first = reader.GetPage(Id(1), 2)!;
        Assert.Equal(2, first.Spans.Count);
        var last = reader.GetPage(Id(1), 2, first.NextPageToken)!;
        Assert.Single(last.Spans);
        Assert.Null(last.NextPageToken);
    }

    /// <summary>Spans <paramref name="from"/>..<paramref name="to"/> of trace 1: span 1 is the root, the rest its
    /// children; start times in groups of seven; every third span carries inputs (a row in the payload file).</summary>
    private static IEnumerable<TestSpan> Spans(int from, int to) =>
        Enumerable.Range(from, to - from + 1).Select(n => new TestSpan(1, n, n == 1 ? 0 : 1, StartNs: (n - 1) / 7 * 1_000, WithInputs: n % 3 == 0));

    private void Seal(int from, int to)
    {
        _pipeline.Assembler.Add(Batch(Spans(from, to)), "0", walSequence: 1);
        Seal(_pipeline.Assembler.TakeAll());
    }

    private void Seal(List<SealedTrace> traces) =>
        _pipeline.Catalog.Commit(_pipeline.Writer.Write(_pipeline.Catalog.NextSealSequence(), [.. traces.Select(t => t.Buffer)]));

    private static string Describe(Query.Traces.SpanRow span) =>
        $"{span.SpanId} {span.ParentSpanId} {span.Name} {span.StartTimeNs} {span.EndTimeNs} {span.Status} " +
        string.Join(",", span.Attributes.Select(a => $"{a.Key}={a.Value}"));
}
