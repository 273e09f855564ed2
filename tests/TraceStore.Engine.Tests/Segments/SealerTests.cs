using Microsoft.Extensions.Logging.Abstractions;
using TraceStore.Engine.Admission;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Segments;
using TraceStore.Engine.Tests.Assembly;
using TraceStore.Testing;

namespace TraceStore.Engine.Tests.Segments;

public sealed class SealerTests : IDisposable
{
    private readonly TempDirectory _folder = new("sealer");
    private readonly ManualTime _time = new();
    private readonly MemoryBudget _budget = new(64L << 20, highWatermarkFraction: 0.5);
    private readonly List<long> _checkpoints = [];

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Finished_traces_wait_for_the_size_or_time_trigger_then_become_one_committed_segment()
    {
        var (assembler, catalog, writer) = Parts();
        Sealer? self = null;
        await using var sealer = self = new Sealer(assembler, _budget, writer, catalog, () => RecordCheckpoint(assembler, self!), new SealerOptions { SegmentTargetSpans = 1000, SegmentMaxDelay = TimeSpan.FromSeconds(30) }, NullLogger.Instance, _time);
        assembler.Add(SpanBatches.Decode([new(1, 1, 0), new(1, 2, 1), new(2, 3, 0)]), "0", walSequence: 4);
        assembler.Add(SpanBatches.Decode([new(3, 4, 0, Ended: false)]), "0", walSequence: 5);
        _time.Advance(TimeSpan.FromSeconds(3));

        // Complete, but neither 1000 spans nor 30 s yet: pending.
        Assert.Equal(0, sealer.SealNow());
        Assert.Equal(4, sealer.LowestPendingWalSequence());
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(2, sealer.SealNow());

        var segment = Assert.Single(catalog.Segments());
        Assert.Equal(2, segment.Traces);
        Assert.Equal(3, segment.Spans);
        Assert.Equal(long.MaxValue, sealer.LowestPendingWalSequence());
        Assert.Equal([5L], _checkpoints);
        Assert.Equal(1, assembler.OpenTraces);

        // Flushing everything takes the open trace too; its memory comes back.
        Assert.Equal(1, sealer.SealNow(everything: true));
        Assert.Equal(2, catalog.Segments().Count);
        Assert.Equal(0, _budget.UsedBytes);
        Assert.Equal(long.MaxValue, _checkpoints[^1]);
        catalog.Dispose();
        writer.Dispose();
    }

    [Fact]
    public async Task Memory_pressure_seals_the_oldest_open_traces_at_once()
    {
        var (assembler, catalog, writer) = Parts();
        Sealer? self = null;
        await using var sealer = self = new Sealer(assembler, _budget, writer, catalog, () => RecordCheckpoint(assembler, self!), new SealerOptions { PressureTargetFraction = 0.1 }, NullLogger.Instance, _time);
        for (var trace = 1; trace <= 4; trace++)
        {
            assembler.Add(SpanBatches.Decode([new(trace, trace, 0, Ended: false)]), "0", trace);
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.True(_budget.TryReserve((_budget.LimitBytes / 2) + 1));
        Assert.True(_budget.IsAboveHighWatermark);
        Assert.Equal(4, sealer.SealNow());
        Assert.Single(catalog.Segments());
        catalog.Dispose();
        writer.Dispose();
    }

    [Fact]
    public async Task Failed_write_keeps_the_traces_pending_and_the_next_round_writes_them()
    {
        var (assembler, catalog, writer) = Parts();
        Sealer? self = null;
        await using var sealer = self = new Sealer(assembler, _budget, writer, catalog, () => RecordCheckpoint(assembler, self!), new SealerOptions(), NullLogger.Instance, _time);
        assembler.Add(SpanBatches.Decode([new(1, 1, 0)]), "0", walSequence: 9);

        // A file where the segment folder must go makes the write fail.
        var blocker = Path.Combine(catalog.SegmentsFolder, SegmentFormat.FolderName(1) + ".tmp");
        File.WriteAllText(blocker, "in the way");
        Assert.Equal(0, sealer.SealNow(everything: true));
        Assert.NotNull(sealer.LastError);
        Assert.Equal(9, sealer.LowestPendingWalSequence());
        Assert.Empty(catalog.Segments());
        Assert.True(_budget.UsedBytes > 0);

        File.Delete(blocker);
        Assert.Equal(1, sealer.SealNow(everything: true));
        Assert.Null(sealer.LastError);
        Assert.Single(catalog.Segments());
        Assert.Equal(0, _budget.UsedBytes);
        catalog.Dispose();
        writer.Dispose();
    }

    /// <summary>What the store's checkpoint computes from the two parts a sealer test has (no WAL, nothing in flight):
    /// the lowest WAL sequence the assembler or the sealer still holds.</summary>
    private void RecordCheckpoint(SpanAssembler assembler, Sealer sealer) =>
        _checkpoints.Add(Math.Min(assembler.LowestWalSequence(), sealer.LowestPendingWalSequence()));

    [Fact]
    public async Task Late_spans_are_sealed_alone_with_a_newest_summary_that_covers_the_whole_trace()
    {
        var (assembler, catalog, writer) = Parts();
        await using var sealer = new Sealer(assembler, _budget, writer, catalog, () => { }, new SealerOptions(), NullLogger.Instance, _time);
        assembler.Add(SpanBatches.Decode([new(1, 1, 0), new(1, 2, 1)]), "0", walSequence: 1);
        Assert.Equal(1, sealer.SealNow(everything: true));

        Assert.Single(catalog.SealedParts(["tr-" + SpanBatches.TraceIdOf(1).ToHex()]));

        // Later: a retry of span 2 and a late span 3, without the root.
        assembler.Add(SpanBatches.Decode([new(1, 2, 1), new(1, 3, 1)]), "0", walSequence: 2);
        Assert.Equal(1, sealer.SealNow(everything: true));

        var second = catalog.Segments()[1];
        using var database = DuckDb.DuckDbDatabase.OpenInMemory();
        using var connection = database.Connect();
        using var result = connection.Query(
            $"SELECT span_count, state, trace_name FROM read_parquet({DuckDb.DuckDbSql.Literal(Path.Combine(second.Folder, SegmentFormat.TracesFile))})");
        var row = Assert.Single(result.ReadAllRows());
        using (var spansResult = connection.Query($"SELECT count(*) FROM read_parquet({DuckDb.DuckDbSql.Literal(Path.Combine(second.Folder, SegmentFormat.SpansFile))})"))
        {
            // Only the late span is stored again: the retried span 2 is in the first segment already.
            Assert.Equal(1L, spansResult.ReadAllRows()[0][0]);
        }

        Assert.Equal(3, row[0]);
        Assert.Equal("OK", row[1]);
        Assert.Equal("t1-s1", row[2]);
        Assert.Equal([1L, 2L], catalog.SealedParts(["tr-" + SpanBatches.TraceIdOf(1).ToHex()]).Single().Value);
        catalog.Dispose();
        writer.Dispose();
    }

    private (SpanAssembler Assembler, SegmentCatalog Catalog, SegmentWriter Writer) Parts()
    {
        var catalog = SegmentCatalog.Open(_folder.Path);
        return (new SpanAssembler(new AssemblerOptions(), _budget, _time), catalog, new SegmentWriter(catalog.SegmentsFolder));
    }
}
