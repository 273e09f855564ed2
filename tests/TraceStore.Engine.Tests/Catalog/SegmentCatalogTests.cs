using TraceStore.DuckDb;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Segments;
using TraceStore.Testing;

namespace TraceStore.Engine.Tests.Catalog;

public sealed class SegmentCatalogTests : IDisposable
{
    private readonly TempDirectory _folder = new("catalog");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Committed_segments_survive_reopen_with_their_zone_maps()
    {
        using (var catalog = SegmentCatalog.Open(_folder.Path))
        {
            Assert.Equal(1, catalog.NextSealSequence());
            catalog.Commit(Segment(1, ["0"], "tr-10", "tr-40", 100, 200));
            catalog.Commit(Segment(2, ["0", "7"], "tr-30", "tr-90", 150, 400));
        }

        using var reopened = SegmentCatalog.Open(_folder.Path);
        var segments = reopened.Segments();
        Assert.Equal([1L, 2L], segments.Select(s => s.SealSequence));
        var expected = Segment(2, ["0", "7"], "tr-30", "tr-90", 150, 400);
        Assert.Equal(expected with { Experiments = [] }, segments[1] with { Experiments = [] });
        Assert.Equal(["0", "7"], segments[1].Experiments);
        Assert.Equal(Path.Combine(_folder.Path, "segments", "seg-00000000000000000002"), segments[1].Folder);
        Assert.Equal(3, reopened.NextSealSequence());
    }

    [Fact]
    public void Candidates_prune_by_experiment_trace_id_and_time()
    {
        using var catalog = SegmentCatalog.Open(_folder.Path);
        catalog.Commit(Segment(1, ["0"], "tr-10", "tr-40", 100, 200));
        catalog.Commit(Segment(2, ["0", "7"], "tr-30", "tr-90", 150, 400));
        catalog.Commit(Segment(3, ["8"], "tr-50", "tr-60", 500, 600));

        Assert.Equal([1L, 2L, 3L], catalog.Candidates().Select(s => s.SealSequence));
        Assert.Equal([2L], catalog.Candidates(experimentId: "7").Select(s => s.SealSequence));
        Assert.Equal([1L, 2L], catalog.Candidates(traceId: "tr-35").Select(s => s.SealSequence));
        Assert.Equal([2L, 3L], catalog.Candidates(traceId: "tr-55").Select(s => s.SealSequence));
        Assert.Equal([3L], catalog.Candidates(fromNs: 450).Select(s => s.SealSequence));
        Assert.Equal([1L], catalog.Candidates(experimentId: "0", toNs: 120).Select(s => s.SealSequence));
        Assert.Empty(catalog.Candidates(experimentId: "x' OR TRUE --"));
    }

    [Fact]
    public void Folders_without_a_catalog_row_are_removed_and_committed_ones_kept()
    {
        using var catalog = SegmentCatalog.Open(_folder.Path);
        catalog.Commit(Segment(1, ["0"], "tr-1", "tr-2", 1, 2));
        Directory.CreateDirectory(Path.Combine(catalog.SegmentsFolder, SegmentFormat.FolderName(1)));
        Directory.CreateDirectory(Path.Combine(catalog.SegmentsFolder, SegmentFormat.FolderName(2)));
        Directory.CreateDirectory(Path.Combine(catalog.SegmentsFolder, SegmentFormat.FolderName(3) + ".tmp"));

        var removed = catalog.RemoveUncommitted();

        Assert.Equal([SegmentFormat.FolderName(2), SegmentFormat.FolderName(3) + ".tmp"], removed.Order());
        Assert.Equal([SegmentFormat.FolderName(1)], Directory.GetDirectories(catalog.SegmentsFolder).Select(Path.GetFileName));
    }

    [Fact]
    public void Commit_is_one_transaction_a_failed_trace_index_insert_leaves_no_segment_row()
    {
        using var catalog = SegmentCatalog.Open(_folder.Path);

        // A null trace id breaks the trace index's NOT NULL after the segment's row was inserted.
        var broken = Segment(1, ["0"], "tr-1", "tr-2", 1, 2) with { TraceIds = ["tr-1", null!] };
        Assert.ThrowsAny<Exception>(() => catalog.Commit(broken));
        Assert.Empty(catalog.Segments());
        Assert.Equal(1, catalog.NextSealSequence());

        catalog.Commit(Segment(1, ["0"], "tr-1", "tr-2", 1, 2) with { TraceIds = ["tr-1", "tr-2"] });
        Assert.Equal([1L], catalog.SegmentsHolding("tr-2").Select(s => s.SealSequence));
    }

    [Fact]
    public void Catalog_from_a_newer_format_is_refused()
    {
        using (var catalog = SegmentCatalog.Open(_folder.Path))
        {
        }

        using (var database = DuckDbDatabase.Open(Path.Combine(_folder.Path, SegmentCatalog.FileName)))
        using (var connection = database.Connect())
        {
            connection.Execute("UPDATE catalog_meta SET value = '99' WHERE key = 'format_version'");
        }

        var error = Assert.Throws<InvalidDataException>(() => SegmentCatalog.Open(_folder.Path));
        Assert.Contains("version 99", error.Message, StringComparison.Ordinal);
    }

    private SegmentInfo Segment(long sequence, string[] experiments, string minId, string maxId, long minStart, long maxStart) =>
        new(sequence, Path.Combine(_folder.Path, "segments", SegmentFormat.FolderName(sequence)), SegmentFormat.Version, experiments, 10, 100, minId, maxId, minStart, maxStart, 4096);
}
