using TraceStore.Engine.Segments;

namespace TraceStore.Query.Tests.Compaction;

/// <summary>Tag changes made after sealing are folded into the segment compaction writes, leave the overlay in the
/// same transaction, and read back the same before and after, across later parts, concurrent changes and restarts.</summary>
public sealed class OverlayFoldTests : IDisposable
{
    private const long BaseMs = 1_763_700_000_000;
    private const string TraceName = "mlflow.traceName";
    private readonly CatalogFixture _store = new();

    public void Dispose() => _store.Dispose();

    [Fact]
    public void Tag_changes_are_written_into_the_merged_summaries_and_removed_from_the_overlay()
    {
        _store.Seal(TestSpans.Batch((1, 0, BaseMs), (2, 0, BaseMs + 1)));
        _store.Seal(TestSpans.Batch((3, 0, BaseMs + 2), (1, 1, BaseMs + 3)));
        var ids = new[] { Id(1), Id(2), Id(3) };
        _store.Mutations.SetTag(Id(1), "reviewed", "yes");
        _store.Mutations.DeleteTag(Id(2), TraceName);
        _store.Mutations.SetTag(Id(3), "draft", "x");
        _store.Mutations.DeleteTag(Id(3), "draft");
        _store.Mutations.SetTag(Id(3), "score", "0.9");
        var before = _store.Snapshot(ids);

        var merged = _store.MergeAll()!;

        Assert.All(ids, id => Assert.Empty(_store.Catalog.Overlay.TagChanges(id)));
        Assert.Equal("yes", CatalogFixture.StoredTags(merged, Id(1))["reviewed"]);
        Assert.False(CatalogFixture.StoredTags(merged, Id(2)).ContainsKey(TraceName));
        Assert.Equal("root-1", CatalogFixture.StoredTags(merged, Id(1))[TraceName]);
        var third = CatalogFixture.StoredTags(merged, Id(3));
        Assert.Equal("0.9", third["score"]);
        Assert.False(third.ContainsKey("draft"));
        Assert.True(File.Exists(Path.Combine(merged.Folder, SegmentFormat.TagChangesFile)));
        Assert.Equal(before, _store.Snapshot(ids));

        _store.Reopen();
        Assert.Equal(before, _store.Snapshot(ids));
        Assert.Equal("yes", _store.Reader.Get(Id(1))!.Summary.Tags["reviewed"]);
        Assert.False(_store.Reader.Get(Id(2))!.Summary.Tags.ContainsKey(TraceName));
    }

    [Fact]
    public void Change_made_while_a_merge_runs_is_not_folded_and_not_lost()
    {
        _store.Seal(TestSpans.Batch((1, 0, BaseMs), (2, 0, BaseMs + 1)));
        _store.Seal(TestSpans.Batch((3, 0, BaseMs + 2)));
        _store.Mutations.SetTag(Id(1), "k", "v1");
        _store.Mutations.SetTag(Id(2), "gone-later", "x");
        _store.Compactor.AfterOverlaySnapshot = () =>
        {
            // Lands after the merge read the overlay and before it commits.
            _store.Mutations.SetTag(Id(1), "k", "v2");
            _store.Mutations.SetTag(Id(3), "new", "n");
            _store.Mutations.DeleteTag(Id(2), "gone-later");
        };

        var merged = _store.MergeAll()!;
        _store.Compactor.AfterOverlaySnapshot = null;

        // The merge folded what it read (v1, the tag on trace 2) and kept the later changes in the overlay.
        Assert.Equal("v1", CatalogFixture.StoredTags(merged, Id(1))["k"]);
        Assert.Equal("x", CatalogFixture.StoredTags(merged, Id(2))["gone-later"]);
        Assert.Equal("v2", _store.Catalog.Overlay.TagChanges(Id(1))["k"]);
        Assert.Null(_store.Catalog.Overlay.TagChanges(Id(2))["gone-later"]);
        AssertCurrentTags();

        // The next merge folds them too; a restart reads the same.
        _store.Seal(TestSpans.Batch((4, 0, BaseMs + 4)));
        var next = _store.MergeAll()!;
        Assert.Empty(_store.Catalog.Overlay.TagChanges(Id(1)));
        Assert.Equal("v2", CatalogFixture.StoredTags(next, Id(1))["k"]);
        AssertCurrentTags();
        _store.Reopen();
        AssertCurrentTags();

        void AssertCurrentTags()
        {
            Assert.Equal("v2", _store.Reader.Get(Id(1))!.Summary.Tags["k"]);
            Assert.Equal("n", _store.Reader.Get(Id(3))!.Summary.Tags["new"]);
            Assert.False(_store.Reader.Get(Id(2))!.Summary.Tags.ContainsKey("gone-later"));
        }
    }

    [Fact]
    public void Folded_changes_survive_a_later_part_whose_summary_is_computed_from_spans()
    {
        _store.Seal(TestSpans.Batch((1, 0, BaseMs), (2, 0, BaseMs + 1)));
        _store.Seal(TestSpans.Batch((3, 0, BaseMs + 2)));
        _store.Mutations.SetTag(Id(1), "reviewed", "yes");
        _store.Mutations.DeleteTag(Id(1), TraceName);
        _store.MergeAll();
        Assert.Empty(_store.Catalog.Overlay.TagChanges(Id(1)));

        // A late span: the sealer reads trace 1 back and writes it whole with a summary built from its spans, which
        // has the trace name again and no user tag.
        var late = _store.Seal(TestSpans.Batch((1, 1, BaseMs + 10)));
        Assert.Equal("root-1", CatalogFixture.StoredTags(late, Id(1))[TraceName]);
        Assert.False(CatalogFixture.StoredTags(late, Id(1)).ContainsKey("reviewed"));

        var trace = _store.Reader.Get(Id(1))!;
        Assert.Equal(2, trace.Spans.Count);
        Assert.Equal(2, trace.Summary.SpanCount);
        Assert.Equal("yes", trace.Summary.Tags["reviewed"]);
        Assert.False(trace.Summary.Tags.ContainsKey(TraceName));
        var before = _store.Snapshot([Id(1), Id(2), Id(3)]);

        // Merging the late part with the folded segment carries the folded changes into the kept summary.
        var merged = _store.MergeAll()!;
        Assert.Equal("yes", CatalogFixture.StoredTags(merged, Id(1))["reviewed"]);
        Assert.False(CatalogFixture.StoredTags(merged, Id(1)).ContainsKey(TraceName));
        Assert.Equal(before, _store.Snapshot([Id(1), Id(2), Id(3)]));
        _store.Reopen();
        Assert.Equal(before, _store.Snapshot([Id(1), Id(2), Id(3)]));
    }

    [Fact]
    public void Latest_summary_wins_even_when_an_older_part_was_merged_into_a_newer_segment()
    {
        // Segment 1 holds trace 1's first part; segment 2 (large, left out of the merge) its whole trace with a later
        // summary; segment 3 is small. Merging 1 and 3 gives a segment numbered after 2 that holds the older summary.
        var first = _store.Seal(TestSpans.Batch((1, 1, BaseMs + 3)));
        var whole = _store.Seal(TestSpans.Batch((1, 0, BaseMs)));
        var small = _store.Seal(TestSpans.Batch((2, 0, BaseMs + 1)));
        var before = _store.Snapshot([Id(1), Id(2)]);
        Assert.Equal(2, _store.Reader.Get(Id(1))!.Summary.SpanCount);

        var merged = _store.Compactor.Merge([first, small])!;

        Assert.True(merged.SealSequence > whole.SealSequence);
        Assert.Equal(before, _store.Snapshot([Id(1), Id(2)]));
        Assert.Equal(2, _store.Reader.Get(Id(1))!.Summary.SpanCount);
    }

    private static string Id(int trace) => TestSpans.Id(trace);
}
