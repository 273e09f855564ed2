using TraceStore.Engine;
using TraceStore.Engine.Ingest;
using TraceStore.Query.Sql;
using TraceStore.Query.Tests.Traces;
using TraceStore.Testing;
using static TraceStore.Query.Tests.Traces.HotSpans;
using StatusCode = OpenTelemetry.Proto.Trace.V1.Status.Types.StatusCode;

namespace TraceStore.Query.Tests.Sql;

/// <summary>One SQL query over sealed and unsealed traces, through a real store (its sealer runs in the background:
/// an unsealed trace may be open or pending, and reads the same either way).</summary>
public sealed class TraceQuerySessionTests : IAsyncLifetime
{
    private readonly TempDirectory _folder = new("query-session");
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
    public async Task One_query_returns_a_sealed_trace_and_an_open_one()
    {
        await Ingest(new TestSpan(1, 1, 0), new TestSpan(1, 2, 1, StartNs: 10, WithInputs: true));
        Assert.Equal(1, _store.SealAll());
        await Ingest(new TestSpan(2, 2, 1, StartNs: 20, Status: StatusCode.Error));
        using var session = TraceQuerySession.Open(_store);
        session.Refresh();

        var rows = session.Query("SELECT trace_id, state, span_count, seal_sequence < $1 AS is_sealed FROM traces ORDER BY trace_id", Engine.Hot.HotIndex.HotSealSequence);

        Assert.Equal(
            [(Id(1), "OK", 2, true), (Id(2), "IN_PROGRESS", 1, false)],
            rows.Select(r => ((string)r[0]!, (string)r[1]!, (int)r[2]!, (bool)r[3]!)));
        Assert.Single(session.Segments);
        Assert.Equal(1, session.Hot.Traces);
    }

    [Fact]
    public async Task Late_spans_of_a_sealed_trace_give_one_trace_row_covering_both_and_the_rows_of_both()
    {
        await Ingest(new TestSpan(1, 1, 0), new TestSpan(1, 2, 1, StartNs: 10));
        Assert.Equal(1, _store.SealAll());
        await Ingest(new TestSpan(1, 2, 1, StartNs: 10), new TestSpan(1, 3, 1, StartNs: 30, Status: StatusCode.Error, WithInputs: true));
        using var session = TraceQuerySession.Open(_store);
        session.Refresh();

        var trace = Assert.Single(session.Query("SELECT trace_id, state, span_count, error_span_count, trace_name, list_sort(span_type_names) FROM traces"));
        Assert.Equal(Id(1), trace[0]);
        Assert.Equal("OK", trace[1]);
        Assert.Equal(3, trace[2]);
        Assert.Equal(1, trace[3]);
        Assert.Equal("t1-s1", trace[4]);
        Assert.Equal(["UNKNOWN:t1-s1", "UNKNOWN:t1-s2", "UNKNOWN:t1-s3"], ((List<object?>)trace[5]!).Cast<string>());

        // Span rows: the retried span is stored twice (sealed and hot); distinct spans are three.
        Assert.Equal(3L, session.Query("SELECT count(DISTINCT span_id) FROM spans WHERE trace_id = $1", Id(1))[0][0]);
        Assert.Equal(4L, session.Query("SELECT count(*) FROM spans WHERE trace_id = $1", Id(1))[0][0]);
        Assert.Equal([SpanHex(3)], session.Query("SELECT span_id FROM payloads WHERE inputs IS NOT NULL").Select(r => (string)r[0]!));
        Assert.Equal(3L, session.Query("SELECT count(DISTINCT span_id) FROM attrs WHERE key = $1", "test.span")[0][0]);

        // Every attrs row (sealed rows name their span by its row in the segment's spans file, hot rows by a rowid)
        // is an attribute of the span it names, and every span's attributes are there.
        var attrs = session.Query("SELECT count(*), count(*) FILTER (WHERE s.attributes[a.key] = a.value) FROM attrs a JOIN (SELECT DISTINCT ON (trace_id, span_id) * FROM spans) s USING (trace_id, span_id)")[0];
        Assert.Equal(attrs[0], attrs[1]);
        Assert.Equal(
            session.Query("SELECT count(*) FROM (SELECT DISTINCT trace_id, span_id, unnest(map_keys(attributes)) FROM spans)")[0][0],
            session.Query("SELECT count(*) FROM (SELECT DISTINCT trace_id, span_id, key FROM attrs)")[0][0]);
    }

    [Fact]
    public async Task Overlay_deletions_and_tag_changes_apply_to_sealed_and_open_traces()
    {
        await Ingest(new TestSpan(1, 1, 0), new TestSpan(2, 1, 0));
        Assert.Equal(2, _store.SealAll());
        await Ingest(new TestSpan(3, 1, 0), new TestSpan(4, 1, 0));
        _store.Catalog.Overlay.DeleteTraces("0", [Id(2), Id(4)]);
        _store.Catalog.Overlay.SetTag(Id(1), "team", "search");
        _store.Catalog.Overlay.SetTag(Id(3), "team", "ranking");
        _store.Catalog.Overlay.DeleteTag(Id(3), "mlflow.traceName");
        using var session = TraceQuerySession.Open(_store);
        session.Refresh();

        var rows = session.Query("SELECT trace_id, tags['team'], tags['mlflow.traceName'] FROM traces ORDER BY trace_id");
        Assert.Equal([(Id(1), "search", "t1-s1"), (Id(3), "ranking", null)], rows.Select(r => ((string)r[0]!, (string?)r[1], (string?)r[2])));
        Assert.Equal([Id(1), Id(3)], session.Query("SELECT DISTINCT trace_id FROM spans ORDER BY 1").Select(r => (string)r[0]!));
        Assert.Equal([(Id(1), "search"), (Id(3), "ranking")], session.Query("SELECT trace_id, tags['team'] FROM traces WHERE tags['team'] IS NOT NULL ORDER BY 1").Select(r => ((string)r[0]!, (string)r[1]!)));
    }

    [Fact]
    public async Task Refresh_takes_a_new_snapshot_and_a_session_without_a_hot_index_reads_sealed_segments_only()
    {
        await Ingest(new TestSpan(1, 1, 0));
        using var session = TraceQuerySession.Open(_store);
        session.Refresh();
        Assert.Equal(1L, session.Query("SELECT count(*) FROM traces")[0][0]);

        await Ingest(new TestSpan(2, 1, 0));
        Assert.Equal(1L, session.Query("SELECT count(*) FROM traces")[0][0]);
        session.Refresh();
        Assert.Equal(2L, session.Query("SELECT count(*) FROM traces")[0][0]);
        session.Refresh("another-experiment");
        Assert.Equal(0L, session.Query("SELECT count(*) FROM traces")[0][0]);
        session.Refresh("0");
        Assert.Equal(2L, session.Query("SELECT count(*) FROM traces WHERE experiment_id = $1", "0")[0][0]);

        using var sealedOnly = new TraceQuerySession(_store.Catalog);
        sealedOnly.Refresh();
        Assert.Equal(0L, sealedOnly.Query("SELECT count(*) FROM traces")[0][0]);
        Assert.Equal(2, _store.SealAll());
        sealedOnly.Refresh();
        Assert.Equal(2L, sealedOnly.Query("SELECT count(*) FROM traces")[0][0]);
        Assert.Equal(2L, sealedOnly.Query("SELECT count(*) FROM spans")[0][0]);
    }

    private async Task Ingest(params TestSpan[] spans) =>
        Assert.Equal(IngestOutcome.Accepted, (await _store.IngestAsync(Payload(spans))).Outcome);
}
