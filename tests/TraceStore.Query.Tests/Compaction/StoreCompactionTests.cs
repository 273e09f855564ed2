using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using TraceStore.Engine.Compaction;
using TraceStore.Engine.Segments;
using TraceStore.Protocol.Content;
using TraceStore.Query.Traces;
using TraceStore.Testing;

namespace TraceStore.Query.Tests.Compaction;

/// <summary>Compaction through the store: reads are the same before and after (late parts, tags, deletions) and after
/// a restart; background compaction runs while ingest goes on; replaced folders outlive the readers that may use them
/// and a crash before their deletion leaves nothing visible twice.</summary>
public sealed class StoreCompactionTests
{
    private const long BaseMs = 1_763_700_000_000;

    [Fact]
    public async Task Every_captured_trace_reads_the_same_after_compaction_and_after_a_restart()
    {
        await using var store = new StoreFixture();
        // Protobuf files arrive in two halves (every other span), each half sealed as its own segment, so their traces
        // are sealed in parts: the second part is written whole again, with a summary that supersedes the first.
        string? split = null;
        foreach (var file in TestPayloads.All.Where(f => f.SpanCount > 0))
        {
            if (file.Format == "protobuf" && file.ContentEncoding is null)
            {
                var (first, second) = Halves(file.RawBytes);
                await store.IngestAsync(first, "0");
                store.Store.SealAll();
                await store.IngestAsync(second, "0");
                split ??= file.SpansPerTrace.First(t => t.Value > 2).Key;
            }
            else
            {
                await store.IngestAsync(file.RawBytes, "0", file.Format == "json" ? OtlpPayloadFormat.Json : OtlpPayloadFormat.Protobuf, OtlpContentHeaders.ParseEncoding(file.ContentEncoding));
            }

            store.Store.SealAll();
        }

        var ids = TestPayloads.Traces.Keys.Select(hex => "tr-" + hex).Order(StringComparer.Ordinal).ToList();
        Assert.NotNull(split);
        Assert.True(store.Store.Catalog.SegmentsHolding("tr-" + split).Count > 1);
        store.WithMutations(m =>
        {
            m.SetTag(ids[0], "reviewed", "yes");
            m.DeleteTag(ids[1], "mlflow.traceName");
            m.SetTag("tr-" + split, "split", "across segments");
            return m.DeleteTraces("0", [ids[2]]);
        });
        var before = store.Snapshot(ids);
        Assert.Null(before[2]);
        Assert.All(before.Where((_, i) => i != 2), json => Assert.NotNull(json));
        var segmentsBefore = store.Store.GetStats().Segments;
        Assert.True(segmentsBefore > 2, $"{segmentsBefore} segments");

        var result = store.Store.CompactNow();

        Assert.Equal(1, store.Store.GetStats().Segments);
        Assert.True(result.Merges >= 1);
        Assert.Equal(result.BytesAfter, store.Store.GetStats().SegmentBytes);
        Assert.Equal(before, store.Snapshot(ids));
        // Each span is stored once: the merged segment holds exactly the spans the reads return.
        var merged = store.Store.Catalog.Segments().Single();
        Assert.Equal(ids.Sum(id => store.Get(id)?.Spans.Count ?? 0), merged.Spans);
        Assert.Equal(ids.Count - 1, merged.Traces);
        Assert.All(ids, id => Assert.Empty(store.Store.Catalog.Overlay.TagChanges(id)));

        await store.ReopenAsync();
        Assert.Equal(before, store.Snapshot(ids));
        Assert.Equal("yes", store.Get(ids[0])!.Summary.Tags["reviewed"]);
        Assert.Equal("across segments", store.Get("tr-" + split)!.Summary.Tags["split"]);
    }

    /// <summary>The request with its spans at even positions, and with those at odd positions.</summary>
    private static (byte[] First, byte[] Second) Halves(byte[] body)
    {
        var first = ExportTraceServiceRequest.Parser.ParseFrom(body);
        var second = first.Clone();
        foreach (var (keep, request) in new[] { (0, first), (1, second) })
        {
            foreach (var scope in request.ResourceSpans.SelectMany(r => r.ScopeSpans))
            {
                var spans = scope.Spans.Where((_, i) => i % 2 == keep).ToList();
                scope.Spans.Clear();
                scope.Spans.Add(spans);
            }
        }

        return (first.ToByteArray(), second.ToByteArray());
    }

    [Fact]
    public async Task Background_compaction_merges_while_ingest_goes_on_and_everything_acknowledged_is_readable()
    {
        await using var store = new StoreFixture(o => o with
        {
            Compaction = new CompactionOptions { RunInBackground = true, Interval = TimeSpan.FromMilliseconds(5), SmallSegmentBytes = 1L << 30, TargetSegmentBytes = 1L << 30 },
        });
        var expected = new Dictionary<int, int>();
        var round = 0;
        // Ingest and seal small segments until the background loop has replaced at least 20 of them; each request has
        // two new traces and a late span of a trace from three rounds before (whose earlier part may be mid-merge).
        for (; round < 3000 && (store.Store.GetStats().SegmentsCompacted < 20 || round < 12); round++)
        {
            var spans = new List<(int Trace, int Span, long StartMs)> { (2 * round + 1, 0, BaseMs + round), (2 * round + 2, 0, BaseMs + round) };
            expected[2 * round + 1] = 1;
            expected[2 * round + 2] = 1;
            if (round >= 3)
            {
                var late = 2 * (round - 3) + 1;
                spans.Add((late, expected[late], BaseMs + round));
                expected[late]++;
            }

            await store.IngestAsync(TestSpans.Body([.. spans]));
            store.Store.SealAll();
        }

        Assert.True(store.Store.GetStats().SegmentsCompacted >= 20, $"only {store.Store.GetStats().SegmentsCompacted} segments compacted in {round} rounds");
        Assert.Equal(round, store.Store.GetStats().AcceptedRequests);
        AssertEverythingReadable();

        await store.ReopenAsync();
        store.Store.CompactNow();
        Assert.Equal(1, store.Store.GetStats().Segments);
        AssertEverythingReadable();

        void AssertEverythingReadable()
        {
            using var reader = new TraceReader(store.Store.Catalog);
            foreach (var (trace, spans) in expected)
            {
                var stored = reader.Get(TestSpans.Id(trace));
                Assert.True(stored is not null, $"trace {trace} is missing");
                Assert.Equal(spans, stored.Spans.Count);
                Assert.Equal(spans, stored.Summary.SpanCount);
            }
        }
    }

    [Fact]
    public async Task Replaced_folders_stay_while_a_reader_that_may_use_them_runs()
    {
        await using var store = new StoreFixture();
        await store.SealAsync("exp", (1, 0, BaseMs));
        await store.SealAsync("exp", (1, 1, BaseMs + 1), (2, 0, BaseMs + 2));
        var catalog = store.Store.Catalog;

        CompactionResult result;
        IReadOnlyList<SegmentInfo> holding;
        using (catalog.AcquireReadLease())
        {
            holding = catalog.SegmentsHolding(TestSpans.Id(1));
            Assert.Equal(2, holding.Count);
            result = store.Store.CompactNow();

            // The reader's segments are no longer listed but their files are still there to read.
            Assert.Equal(2, result.FoldersAwaitingReaders);
            Assert.Equal(0, result.FoldersDeleted);
            Assert.DoesNotContain(catalog.Segments(), s => holding.Any(h => h.SealSequence == s.SealSequence));
            Assert.All(holding, s => Assert.True(File.Exists(Path.Combine(s.Folder, SegmentFormat.SpansFile))));
        }

        // A reader that starts after the replacement does not hold them back.
        using (catalog.AcquireReadLease())
        {
            var next = store.Store.CompactNow();
            Assert.Equal(2, next.FoldersDeleted);
            Assert.Equal(0, next.FoldersAwaitingReaders);
        }

        Assert.All(holding, s => Assert.False(Directory.Exists(s.Folder)));
        Assert.Equal(2, store.Get(TestSpans.Id(1))!.Spans.Count);
    }

    [Fact]
    public async Task Crash_after_the_replacement_commit_leaves_nothing_visible_twice_and_open_removes_the_old_folders()
    {
        await using var store = new StoreFixture();
        await store.SealAsync("exp", (1, 0, BaseMs), (2, 0, BaseMs + 1));
        await store.SealAsync("exp", (1, 1, BaseMs + 2), (3, 0, BaseMs + 3));
        store.WithMutations(m => { m.SetTag(TestSpans.Id(3), "t", "v"); return 0; });
        var ids = new[] { TestSpans.Id(1), TestSpans.Id(2), TestSpans.Id(3) };
        var before = store.Snapshot(ids);
        var inputs = store.Store.Catalog.Segments();

        // A reader still holds a lease when the process stops: the catalog has committed the merged segment, the old
        // folders are still on disk (as after a crash between the commit and their deletion).
        var lease = store.Store.Catalog.AcquireReadLease();
        Assert.Equal(2, store.Store.CompactNow().FoldersAwaitingReaders);
        await store.Store.DisposeAsync();
        Assert.All(inputs, s => Assert.True(Directory.Exists(s.Folder)));
        lease.Dispose();

        await store.ReopenAsync();
        Assert.All(inputs, s => Assert.False(Directory.Exists(s.Folder)));
        Assert.Single(Directory.GetDirectories(store.Store.Catalog.SegmentsFolder));
        Assert.Equal(before, store.Snapshot(ids));
        Assert.Equal(4, store.Store.Catalog.Segments().Single().Spans);
    }
}
