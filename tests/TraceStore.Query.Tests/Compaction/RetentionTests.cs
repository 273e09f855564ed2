using TraceStore.DuckDb;
using TraceStore.Engine.Compaction;
using TraceStore.Engine.Segments;

namespace TraceStore.Query.Tests.Compaction;

/// <summary>Retention through the store, with a clock the test sets: maximum age removes exactly the traces older than
/// the cutoff, byte caps remove the oldest traces first, segments left empty go whole, and what is removed stays
/// removed after compaction and a restart.</summary>
public sealed class RetentionTests
{
    private const long BaseMs = 1_763_700_000_000;

    [Fact]
    public async Task Max_age_removes_exactly_the_traces_older_than_the_cutoff()
    {
        var policies = new RetentionOptions
        {
            Default = new RetentionPolicy(MaxAge: TimeSpan.FromHours(1)),
            Experiments = new Dictionary<string, RetentionPolicy> { ["keep"] = RetentionPolicy.KeepForever },
        };
        await using var store = new StoreFixture(o => o with { Retention = policies });
        // Segment A: traces 1-3 only, all old. Segment B: traces 4-8 around the cutoff, and trace 9 in "keep". Start
        // times 2 ms apart: MLflow's rounding can put a request time 1 ms below its start, never more.
        await store.SealAsync("exp", (1, 0, BaseMs), (2, 0, BaseMs + 10), (3, 0, BaseMs + 20));
        await store.SealAsync("exp", (4, 0, BaseMs + 1000), (5, 0, BaseMs + 1996), (6, 0, BaseMs + 1998), (7, 0, BaseMs + 2000), (8, 0, BaseMs + 2002));
        await store.SealAsync("keep", (9, 0, BaseMs));
        var oldSegment = store.Store.Catalog.Segments()[0];

        // The cutoff is trace 6's request time as stored (MLflow's millisecond rounding decides it, not our input).
        var cutoff = store.Get(TestSpans.Id(6))!.Summary.RequestTimeMs;
        store.Clock.Set(DateTimeOffset.FromUnixTimeMilliseconds(cutoff) + TimeSpan.FromHours(1));
        var expired = Enumerable.Range(1, 9).Where(t => store.Get(TestSpans.Id(t))!.Summary.RequestTimeMs < cutoff && t != 9).ToList();
        Assert.Equal([1, 2, 3, 4, 5], expired);

        var result = store.Store.EnforceRetentionNow();

        Assert.Equal(5, result.ExpiredTraces);
        Assert.Equal(1, result.SegmentsDropped);
        Assert.False(Directory.Exists(oldSegment.Folder));
        AssertLive([6, 7, 8, 9]);
        Assert.Equal(0, store.Store.EnforceRetentionNow().ExpiredTraces);

        // The partly expired segment is rewritten without them (2 of its 5 traces: over the 20 % threshold).
        var compaction = store.Store.CompactNow();
        Assert.Equal(1, compaction.SegmentsRewritten);
        Assert.Equal([6, 7, 8], StoredTraceIds(store, "exp"));
        AssertLive([6, 7, 8, 9]);

        // A millisecond later trace 6 is 1 ms older than the cutoff, and goes; trace 7 is at or after it.
        store.Clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(store.Get(TestSpans.Id(7))!.Summary.RequestTimeMs >= cutoff + 1);
        Assert.Equal(1, store.Store.EnforceRetentionNow().ExpiredTraces);
        await store.ReopenAsync();
        AssertLive([7, 8, 9]);

        void AssertLive(int[] live)
        {
            foreach (var trace in Enumerable.Range(1, 9))
            {
                Assert.True(live.Contains(trace) == store.Get(TestSpans.Id(trace)) is not null, $"trace {trace} should be {(live.Contains(trace) ? "live" : "gone")}");
            }
        }
    }

    [Fact]
    public async Task Max_age_removes_every_part_of_a_trace_sealed_in_parts()
    {
        await using var store = new StoreFixture(o => o with { Retention = new RetentionOptions { Default = new(MaxAge: TimeSpan.FromDays(1)) } });
        await store.SealAsync("exp", (1, 0, BaseMs));
        // A late span a day later, sealed with a new trace: trace 1's request time is still its root's.
        var dayLater = BaseMs + (long)TimeSpan.FromDays(1).TotalMilliseconds;
        await store.SealAsync("exp", (1, 1, dayLater), (2, 0, dayLater));
        store.Clock.Set(DateTimeOffset.FromUnixTimeMilliseconds(dayLater) + TimeSpan.FromHours(1));

        var result = store.Store.EnforceRetentionNow();

        Assert.Equal(1, result.ExpiredTraces);
        Assert.Equal(1, result.SegmentsDropped);
        Assert.Null(store.Get(TestSpans.Id(1)));
        Assert.Single(store.Get(TestSpans.Id(2))!.Spans);
        store.Store.CompactNow();
        Assert.Equal([2], StoredTraceIds(store, "exp"));
        Assert.Empty(store.Store.Catalog.SegmentsHolding(TestSpans.Id(1)));
    }

    [Fact]
    public async Task Max_bytes_removes_the_oldest_traces_first_until_the_experiment_fits()
    {
        await using var store = new StoreFixture();
        // One trace per segment, so a trace's bytes are its segment's; traces 1..6 from oldest to newest.
        for (var trace = 1; trace <= 6; trace++)
        {
            await store.SealAsync("capped", (trace, 0, BaseMs + (trace * 1000)), (trace, 1, BaseMs + (trace * 1000) + 1));
        }

        await store.SealAsync("other", (7, 0, BaseMs));
        var bytes = store.Store.Catalog.Segments().Take(6).Select(s => s.Bytes).ToList();
        Assert.Equal(bytes.Sum(), store.Store.ExperimentBytes("capped"));

        // Room for the newest three and half of the fourth newest: the three oldest go.
        var cap = bytes[3] + bytes[4] + bytes[5] + (bytes[2] / 2);
        await store.ReopenAsync(o => o with
        {
            Retention = new RetentionOptions { Experiments = new Dictionary<string, RetentionPolicy> { ["capped"] = new(MaxBytes: cap) } },
        });
        var result = store.Store.EnforceRetentionNow();

        Assert.Equal(3, result.OverCapTraces);
        Assert.Equal(bytes[3] + bytes[4] + bytes[5], result.ExperimentBytes["capped"]);
        Assert.Equal(3, result.SegmentsDropped);
        Assert.Equal([4, 5, 6], Enumerable.Range(1, 6).Where(t => store.Get(TestSpans.Id(t)) is not null));
        Assert.NotNull(store.Get(TestSpans.Id(7)));
        Assert.True(store.Store.Catalog.Candidates("capped").Sum(s => s.Bytes) <= cap);
        Assert.Equal(0, store.Store.EnforceRetentionNow().OverCapTraces);
    }

    [Fact]
    public async Task A_shared_segments_bytes_are_charged_to_experiments_by_their_spans()
    {
        await using var store = new StoreFixture();
        await store.IngestAsync(TestSpans.Body((1, 0, BaseMs), (1, 1, BaseMs + 1)), "a");
        await store.IngestAsync(TestSpans.Body((2, 0, BaseMs), (2, 1, BaseMs + 1), (2, 2, BaseMs + 2), (2, 3, BaseMs + 3), (2, 4, BaseMs + 4), (2, 5, BaseMs + 5)), "b");
        store.Store.SealAll();
        var segment = store.Store.Catalog.Segments().Single();
        Assert.Equal(8, segment.Spans);

        Assert.Equal((long)Math.Round(segment.Bytes * 2 / 8.0), store.Store.ExperimentBytes("a"));
        Assert.Equal((long)Math.Round(segment.Bytes * 6 / 8.0), store.Store.ExperimentBytes("b"));

        // A deleted trace is no longer charged, though its bytes stay on disk until compaction.
        store.WithMutations(m => m.DeleteTraces("b", [TestSpans.Id(2)]));
        Assert.Equal(0, store.Store.ExperimentBytes("b"));
    }

    [Fact]
    public async Task Deleted_trace_is_dropped_by_compaction_and_its_record_purged_after_the_grace_period()
    {
        await using var store = new StoreFixture();
        await store.SealAsync("exp", (1, 0, BaseMs), (2, 0, BaseMs + 1), (3, 0, BaseMs + 2));
        await store.SealAsync("exp", (4, 0, BaseMs + 3));
        store.WithMutations(m =>
        {
            m.SetTag(TestSpans.Id(1), "t", "v");
            m.LinkToRun("run-1", [TestSpans.Id(1)]);
            return m.DeleteTraces("exp", [TestSpans.Id(1)]);
        });
        var catalog = store.Store.Catalog;

        store.Store.CompactNow();
        Assert.Empty(catalog.SegmentsHolding(TestSpans.Id(1)));
        Assert.True(catalog.Overlay.IsDeleted(TestSpans.Id(1)));

        // Past the grace period, but a seal that began before the drop may still write the trace: no purge yet.
        store.Clock.Advance(TimeSpan.FromHours(2));
        using (catalog.AcquireReadLease())
        {
            await store.SealAsync("exp", (5, 0, BaseMs + 4));
            store.Store.CompactNow();
        }

        Assert.True(catalog.Overlay.IsDeleted(TestSpans.Id(1)));
        Assert.Equal(1, store.Store.CompactNow().DeletionsPurged);
        Assert.False(catalog.Overlay.IsDeleted(TestSpans.Id(1)));
        Assert.Empty(catalog.Overlay.TagChanges(TestSpans.Id(1)));
        Assert.Empty(catalog.Overlay.RunsOf(TestSpans.Id(1)));
        Assert.Null(store.Get(TestSpans.Id(1)));

        // After the purge, spans with that id make a new trace of their own (MLflow: log_spans after a delete).
        await store.SealAsync("exp", (1, 7, BaseMs + 100));
        var reborn = store.Get(TestSpans.Id(1))!;
        Assert.Single(reborn.Spans);
        Assert.False(reborn.Summary.Tags.ContainsKey("t"));
    }

    [Fact]
    public async Task Spans_of_a_deleted_trace_sealed_before_the_purge_are_deleted_with_it()
    {
        await using var store = new StoreFixture();
        await store.SealAsync("exp", (1, 0, BaseMs), (2, 0, BaseMs + 1));
        store.WithMutations(m => m.DeleteTraces("exp", [TestSpans.Id(1)]));
        store.Store.CompactNow();

        // A late span within the grace period: sealed, but the trace stays deleted, and compaction drops it again.
        await store.SealAsync("exp", (1, 1, BaseMs + 2));
        Assert.Null(store.Get(TestSpans.Id(1)));
        store.Clock.Advance(TimeSpan.FromHours(2));
        var result = store.Store.CompactNow();
        Assert.Equal(1, result.DeletionsPurged);
        Assert.Null(store.Get(TestSpans.Id(1)));
        Assert.Equal([2], StoredTraceIds(store, "exp"));
    }

    /// <summary>The traces physically in the experiment's segments (plain DuckDB over the committed files).</summary>
    private static List<int> StoredTraceIds(StoreFixture store, string experiment)
    {
        var files = store.Store.Catalog.Candidates(experiment).Select(s => DuckDbSql.Literal(Path.Combine(s.Folder, SegmentFormat.TracesFile))).ToList();
        if (files.Count == 0)
        {
            return [];
        }

        using var database = DuckDbDatabase.OpenInMemory();
        using var connection = database.Connect();
        using var query = connection.Prepare($"SELECT DISTINCT trace_id FROM read_parquet([{string.Join(", ", files)}]) WHERE experiment_id = $1 ORDER BY trace_id");
        query.Bind(1, experiment);
        using var result = query.Execute();
        return [.. result.ReadAllRows().Select(r => Enumerable.Range(1, 1000).Single(t => TestSpans.Id(t) == (string)r[0]!))];
    }
}
