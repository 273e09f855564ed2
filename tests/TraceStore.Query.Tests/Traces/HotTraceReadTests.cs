using System.Text.Json;
using TraceStore.Engine;
using TraceStore.Engine.Ingest;
using TraceStore.Engine.Traces;
using TraceStore.Query.Traces;
using TraceStore.Testing;
using static TraceStore.Query.Tests.Traces.HotSpans;
using StatusCode = OpenTelemetry.Proto.Trace.V1.Status.Types.StatusCode;

namespace TraceStore.Query.Tests.Traces;

/// <summary>
/// Reads of traces that are not (or not wholly) sealed, through a real store. The store's sealer runs in the
/// background, so an unsealed trace may be open or pending when it is read: the assertions hold for both, which is the
/// point of the hot index. <see cref="Engine.TraceStore.SealAll"/> moves everything into segments when a test needs it.
/// </summary>
public sealed class HotTraceReadTests : IAsyncLifetime
{
    private readonly TempDirectory _folder = new("hot-reads");
    private Engine.TraceStore _store = null!;

    public Task InitializeAsync()
    {
        _store = Engine.TraceStore.Open(new TraceStoreOptions { DataDirectory = _folder.Path });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        _folder.Dispose();
    }

    [Fact]
    public async Task Open_trace_reads_in_progress_before_its_root_arrives_and_with_the_roots_state_after()
    {
        await Ingest(new TestSpan(1, 2, 1, StartNs: 1_000), new TestSpan(1, 3, 1, StartNs: 2_000));
        using var reader = TraceReader.Open(_store);

        var open = reader.Get(Id(1))!;
        Assert.Equal(TraceState.InProgress, open.Summary.State);
        Assert.Null(open.Summary.TraceName);
        Assert.Equal([SpanHex(2), SpanHex(3)], open.Spans.Select(s => s.SpanId));
        using (var json = JsonDocument.Parse(GetTraceJson.ToJson(open)))
        {
            Assert.Equal("IN_PROGRESS", json.RootElement.GetProperty("trace").GetProperty("trace_info").GetProperty("state").GetString());
        }

        await Ingest(new TestSpan(1, 1, 0, Status: StatusCode.Error));
        var rooted = reader.Get(Id(1))!;
        Assert.Equal(TraceState.Error, rooted.Summary.State);
        Assert.Equal("t1-s1", rooted.Summary.TraceName);
        Assert.Equal(3, rooted.Summary.SpanCount);

        Assert.Equal(1, _store.SealAll());
        var sealedTrace = reader.Get(Id(1))!;
        Assert.Equal(TraceState.Error, sealedTrace.Summary.State);
        Assert.Equal(rooted.Spans.Select(s => s.SpanId), sealedTrace.Spans.Select(s => s.SpanId));
        Assert.Equal(Attributes(rooted), Attributes(sealedTrace));
    }

    [Fact]
    public async Task Trace_with_a_sealed_part_and_unsealed_late_spans_reads_as_one_trace()
    {
        await Ingest(new TestSpan(1, 1, 0, WithInputs: true), new TestSpan(1, 2, 1, StartNs: 100), new TestSpan(1, 3, 1, StartNs: 200, Status: StatusCode.Error));
        Assert.Equal(1, _store.SealAll());

        // Late: a retry of span 2 and two new spans, one of them an error and earlier than everything sealed.
        await Ingest(new TestSpan(1, 2, 1, StartNs: 100), new TestSpan(1, 4, 1, StartNs: -5_000_000, Status: StatusCode.Error), new TestSpan(1, 5, 4, StartNs: 300, WithInputs: true));
        using var reader = TraceReader.Open(_store);

        var merged = reader.Get(Id(1))!;
        Assert.Equal([SpanHex(4), SpanHex(1), SpanHex(2), SpanHex(3), SpanHex(5)], merged.Spans.Select(s => s.SpanId));
        Assert.Equal(5, merged.Summary.SpanCount);
        Assert.Equal(2, merged.Summary.ErrorSpanCount);
        Assert.Equal(TraceState.Ok, merged.Summary.State);
        Assert.Equal("t1-s1", merged.Summary.TraceName);
        Assert.Equal(BaseNs / 1_000_000 - 5, merged.Summary.RequestTimeMs);

        // Paged, the same spans in the same order, each once.
        var paged = AllPages(reader, Id(1), pageSize: 2);
        Assert.Equal(merged.Spans.Select(s => s.SpanId), paged.Select(s => s.SpanId));
        Assert.Equal(Attributes(merged), paged.Select(s => string.Join(",", s.Attributes.Select(a => $"{a.Key}={a.Value}"))));

        // Sealed again, the trace reads the same.
        Assert.Equal(1, _store.SealAll());
        var resealed = reader.Get(Id(1))!;
        Assert.Equal(merged.Spans.Select(s => s.SpanId), resealed.Spans.Select(s => s.SpanId));
        Assert.Equal(5, resealed.Summary.SpanCount);
        Assert.Equal(2, resealed.Summary.ErrorSpanCount);
        Assert.Equal(merged.Summary.RequestTimeMs, resealed.Summary.RequestTimeMs);
        Assert.Equal(merged.Summary.ExecutionDurationMs, resealed.Summary.ExecutionDurationMs);
    }

    [Fact]
    public async Task Deleted_open_trace_is_not_found_and_tag_changes_apply_to_open_traces()
    {
        await Ingest(new TestSpan(1, 1, 0), new TestSpan(2, 1, 0));
        _store.Catalog.Overlay.DeleteTraces("0", [Id(1)]);
        _store.Catalog.Overlay.SetTag(Id(2), "team", "search");
        using var reader = TraceReader.Open(_store);

        Assert.Null(reader.Get(Id(1)));
        Assert.Null(reader.GetPage(Id(1), pageSize: 10));
        Assert.Equal("search", reader.Get(Id(2))!.Summary.Tags["team"]);
        Assert.Equal("search", reader.GetPage(Id(2), pageSize: 10)!.Summary.Tags["team"]);
    }

    private async Task Ingest(params TestSpan[] spans) =>
        Assert.Equal(IngestOutcome.Accepted, (await _store.IngestAsync(Payload(spans))).Outcome);

    internal static List<SpanRow> AllPages(TraceReader reader, string traceId, int pageSize)
    {
        var spans = new List<SpanRow>();
        string? token = null;
        do
        {
            var page = reader.GetPage(traceId, pageSize, token)!;
            Assert.True(page.Spans.Count <= pageSize);
            Assert.True(page.Spans.Count == pageSize || page.NextPageToken is null, "only the last page may be short");
            spans.AddRange(page.Spans);
            token = page.NextPageToken;
        }
        while (token is not null);

        return spans;
    }

    private static IEnumerable<string> Attributes(StoredTrace trace) =>
        trace.Spans.Select(s => string.Join(",", s.Attributes.Select(a => $"{a.Key}={a.Value}")));
}
