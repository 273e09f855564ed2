using TraceStore.DuckDb;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Segments;
using TraceStore.Testing;

namespace TraceStore.Engine.Tests.Catalog;

/// <summary>The catalog's format version 2 (tag change sequence, retired folders), the migration from version 1, and
/// seal sequences handed to the sealer and the compactor without collisions.</summary>
public sealed class CatalogVersionTests : IDisposable
{
    private readonly TempDirectory _folder = new("catalog-version");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Version_1_catalog_is_migrated_with_its_tag_changes_numbered_before_new_ones()
    {
        using (var database = DuckDbDatabase.Open(Path.Combine(_folder.Path, SegmentCatalog.FileName)))
        using (var connection = database.Connect())
        {
            connection.Execute("""
                CREATE TABLE catalog_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
                INSERT INTO catalog_meta VALUES ('format_version', '1');
                CREATE TABLE tag_overlay (
                    trace_id VARCHAR NOT NULL, key VARCHAR NOT NULL, value VARCHAR, deleted BOOLEAN NOT NULL, changed_unix_ms BIGINT NOT NULL,
                    PRIMARY KEY (trace_id, key));
                INSERT INTO tag_overlay VALUES ('tr-1', 'a', 'x', false, 100), ('tr-1', 'b', NULL, true, 200);
                """);
        }

        using (var catalog = SegmentCatalog.Open(_folder.Path))
        {
            Assert.Equal(new Dictionary<string, string?> { ["a"] = "x", ["b"] = null }, catalog.Overlay.TagChanges("tr-1"));
            catalog.Commit(Segment(1, ["tr-1", "tr-2"]));
            catalog.Overlay.SetTag("tr-2", "c", "y");

            var snapshot = catalog.Overlay.TagChangesToFold([1]);
            Assert.Equal(3, snapshot.Changes.Count);
            var migrated = snapshot.Changes.Where(c => c.TraceId == "tr-1").Select(c => c.ChangeSequence).ToList();
            var added = snapshot.Changes.Single(c => c.TraceId == "tr-2").ChangeSequence;
            Assert.All(migrated, sequence => Assert.True(sequence < added));
            Assert.Equal(added, snapshot.ChangeSequence);
        }

        using var reopened = DuckDbDatabase.Open(Path.Combine(_folder.Path, SegmentCatalog.FileName));
        using var check = reopened.Connect();
        using var version = check.Query("SELECT value FROM catalog_meta WHERE key = 'format_version'");
        Assert.Equal("2", version.ReadAllRows().Single()[0]);
    }

    [Fact]
    public void Sealer_gets_the_same_sequence_until_it_commits_and_the_compactor_never_gets_it()
    {
        using var catalog = SegmentCatalog.Open(_folder.Path);
        catalog.Commit(Segment(1, ["tr-1"]));

        var sealer = catalog.NextSealSequence();
        Assert.Equal(2, sealer);
        Assert.Equal(3, catalog.AllocateSealSequence());
        Assert.Equal(sealer, catalog.NextSealSequence());

        catalog.Commit(Segment(sealer, ["tr-2"]));
        Assert.Equal(4, catalog.NextSealSequence());
        Assert.Equal(5, catalog.AllocateSealSequence());
    }

    [Fact]
    public void Replacing_segments_that_are_no_longer_committed_changes_nothing()
    {
        using var catalog = SegmentCatalog.Open(_folder.Path);
        catalog.Commit(Segment(1, ["tr-1"]));
        var missing = Segment(7, ["tr-7"]);

        Assert.Throws<InvalidOperationException>(() => catalog.ReplaceSegments([catalog.Segments()[0], missing], merged: null));
        Assert.Equal([1L], catalog.Segments().Select(s => s.SealSequence));
        Assert.Equal([1L], catalog.SegmentsHolding("tr-1").Select(s => s.SealSequence));
    }

    private SegmentInfo Segment(long sequence, string[] traceIds) =>
        new(sequence, Path.Combine(_folder.Path, "segments", SegmentFormat.FolderName(sequence)), SegmentFormat.Version, ["0"], traceIds.Length, traceIds.Length, traceIds[0], traceIds[^1], 100, 200, 4096)
        {
            TraceIds = traceIds,
        };
}
