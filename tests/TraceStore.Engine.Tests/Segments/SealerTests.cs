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

    [Fact]
    public async Task A_trace_too_big_for_the_writers_memory_is_written_in_slices_and_reads_whole()
    {
        // The writer streams rows, but DuckDB holds a row group of each file until it is written: 9,000 spans with a
        // 2 KB attribute each (18 MB of values, held in the spans' attribute maps and in attrs) do not fit a 16 MiB
        // writer, of which DuckDB's fixed needs take about 11 MiB (measured: with 12 MiB only 4 small spans fit).
        var catalog = SegmentCatalog.Open(_folder.Path);
        var writer = new SegmentWriter(catalog.SegmentsFolder, new SegmentWriterOptions { MemoryLimitBytes = 16L << 20, Threads = 1 });
        var assembler = new SpanAssembler(new AssemblerOptions(), _budget, _time);
        await using var sealer = new Sealer(assembler, _budget, writer, catalog, () => { }, new SealerOptions(), NullLogger.Instance, _time);
        var batch = DecodedBatches.Decode(OtlpOracle.OtlpTestRequests.Protobuf(9_000, valueBytes: 2_000, spansPerTrace: 9_000));
        var traceId = "tr-" + batch.Spans[0].TraceId.ToHex();
        assembler.Add(batch, "0", walSequence: 1);

        var written = sealer.SealNow(everything: true);

        Assert.True(sealer.LastError is null, sealer.LastError?.Message);
        Assert.Equal(1, written);
        var holding = catalog.SegmentsHolding(traceId);
        Assert.True(holding.Count > 1, "the trace fit at once: the test no longer exercises slicing");
        using var database = DuckDb.DuckDbDatabase.OpenInMemory();
        using var connection = database.Connect();
        var files = string.Join(", ", holding.Select(s => DuckDb.DuckDbSql.Literal(Path.Combine(s.Folder, SegmentFormat.SpansFile))));
        using (var counts = connection.Query($"SELECT count(*), count(DISTINCT span_id) FROM read_parquet([{files}])"))
        {
            Assert.Equal([9_000L, 9_000L], counts.ReadAllRows()[0]);
        }

        Assert.Equal(9_000, SealedTraceQueries.LatestSummaries(connection, holding, [traceId])[traceId].Summary.SpanCount);
        Assert.Equal(0, _budget.UsedBytes);
        catalog.Dispose();
        writer.Dispose();
    }

    [Fact]
    public async Task When_the_writers_DuckDB_cannot_write_at_all_the_traces_stay_pending_and_the_problem_is_reported()
    {
        // Below DuckDB's fixed needs (its Parquet writer allocates 1 MiB buffers) nothing fits, whatever the segment's
        // size: the traces must stay pending and counted, and the error must say what happened.
        var catalog = SegmentCatalog.Open(_folder.Path);
        var budget = new MemoryBudget(256L << 20);
        var writer = new SegmentWriter(catalog.SegmentsFolder, new SegmentWriterOptions { MemoryLimitBytes = 4L << 20, Threads = 1 });
        var assembler = new SpanAssembler(new AssemblerOptions(), budget, _time);
        await using var sealer = new Sealer(assembler, budget, writer, catalog, () => { }, new SealerOptions(), NullLogger.Instance, _time);
        assembler.Add(DecodedBatches.Decode(OtlpOracle.OtlpTestRequests.Protobuf(200, valueBytes: 100, seed: 1, spansPerTrace: 10)), "0", walSequence: 1);
        var held = budget.UsedBytes;

        Assert.Equal(0, sealer.SealNow(everything: true));
        Assert.Equal(0, sealer.SealNow(everything: true));

        var error = Assert.IsType<DuckDb.DuckDbException>(sealer.LastError);
        Assert.Equal(DuckDb.DuckDbErrorType.OutOfMemory, error.ErrorType);
        Assert.Contains("Out of Memory", error.Message, StringComparison.Ordinal);
        Assert.Empty(catalog.Segments());
        Assert.Equal(held, budget.UsedBytes);
        Assert.Equal(20, sealer.PendingSnapshot().Count);
        catalog.Dispose();
        writer.Dispose();
    }

    [Fact]
    public async Task Parts_of_one_trace_taken_in_the_same_round_are_written_one_per_segment_with_a_summary_of_every_part()
    {
        // Parts of two spans: one trace becomes several buffers that the same round takes, first without, then with a
        // part already committed. A segment takes one part of a trace (no merged copy): the parts go to consecutive
        // segments, each span once, each summary row covering every part sealed so far.
        var (assembler, catalog, writer) = Parts(new AssemblerOptions { MaxSpansPerPart = 2 });
        await using var sealer = new Sealer(assembler, _budget, writer, catalog, () => { }, new SealerOptions(), NullLogger.Instance, _time);
        assembler.Add(SpanBatches.Decode([new(1, 1, 0), new(1, 2, 1), new(1, 3, 1), new(1, 4, 1), new(1, 5, 1)]), "0", walSequence: 1);
        Assert.Equal(3, sealer.SealNow(everything: true));
        Assert.Equal(
            ["1 traces, 2 spans; summaries: 2 OK t1-s1", "1 traces, 2 spans; summaries: 4 OK t1-s1", "1 traces, 1 spans; summaries: 5 OK t1-s1"],
            catalog.Segments().Select(Describe));
        Assert.Equal(0, _budget.UsedBytes); // the trace's last part was a flush: nothing kept

        // Late: a retry of span 2 and spans 6 to 8, again in parts: only the new spans are written.
        assembler.Add(SpanBatches.Decode([new(1, 2, 1), new(1, 6, 1), new(1, 7, 1), new(1, 8, 1)]), "0", walSequence: 2);
        Assert.Equal(2, sealer.SealNow(everything: true));
        Assert.Equal(
            ["1 traces, 1 spans; summaries: 6 OK t1-s1", "1 traces, 2 spans; summaries: 8 OK t1-s1"],
            catalog.Segments().Skip(3).Select(Describe));
        Assert.True(_budget.UsedBytes > 0, "the parts kept after a full part are not counted in the budget");
        catalog.Dispose();
        writer.Dispose();
    }

    [Fact]
    public async Task Traces_that_do_not_fit_the_writers_memory_in_one_segment_are_written_in_smaller_segments()
    {
        // 4,000 spans with a 2 KB attribute each (held twice by the writer: in the spans' attribute map and in attrs),
        // about 12 MiB of buffers, and a sealer that may put 64 MiB of buffers in one segment: the writer's 16 MiB of
        // DuckDB memory cannot hold their row groups in one COPY. Every round would fail the same way; the sealer must split them.
        var catalog = SegmentCatalog.Open(_folder.Path);
        var budget = new MemoryBudget(256L << 20);
        var assembler = new SpanAssembler(new AssemblerOptions(), budget, _time);
        var writer = new SegmentWriter(catalog.SegmentsFolder, new SegmentWriterOptions { MemoryLimitBytes = 16L << 20, Threads = 1 });
        var log = new ListLogger();
        await using var sealer = new Sealer(assembler, budget, writer, catalog, () => { }, new SealerOptions { MaxSegmentBufferBytes = 64L << 20 }, log, _time);
        for (var request = 0; request < 10; request++)
        {
            assembler.Add(DecodedBatches.Decode(OtlpOracle.OtlpTestRequests.Protobuf(400, valueBytes: 2_000, seed: request + 1, spansPerTrace: 10)), "0", walSequence: request + 1);
        }

        var written = sealer.SealNow(everything: true);
        Assert.True(log.Lines.Any(l => l.Contains("Out of Memory", StringComparison.Ordinal)), "the writer wrote all 400 traces at once: this test needs a bigger batch to check anything");
        Assert.True(written == 400, $"{written} traces written; log: {string.Join("\n", log.Lines)}");
        Assert.Null(sealer.LastError);
        Assert.True(catalog.Segments().Count > 1);
        Assert.Equal(4_000, catalog.Segments().Sum(s => s.Spans));
        Assert.Equal(0, budget.UsedBytes);
        catalog.Dispose();
        writer.Dispose();
    }

    /// <summary>The catalog's trace and span counts of <paramref name="segment"/> and its summary rows (span count,
    /// state, trace name), after checking that its spans file holds each span once.</summary>
    private static string Describe(SegmentInfo segment)
    {
        using var database = DuckDb.DuckDbDatabase.OpenInMemory();
        using var connection = database.Connect();
        using var result = connection.Query(
            $"SELECT span_count, state, trace_name FROM read_parquet({DuckDb.DuckDbSql.Literal(Path.Combine(segment.Folder, SegmentFormat.TracesFile))})");
        var rows = result.ReadAllRows().Select(r => $"{r[0]} {r[1]} {r[2]}");
        using var spans = connection.Query($"SELECT count(*), count(DISTINCT span_id) FROM read_parquet({DuckDb.DuckDbSql.Literal(Path.Combine(segment.Folder, SegmentFormat.SpansFile))})");
        var counts = spans.ReadAllRows()[0];
        Assert.Equal(counts[0], counts[1]);
        Assert.Equal(segment.Spans, (long)counts[0]!);
        return $"{segment.Traces} traces, {segment.Spans} spans; summaries: {string.Join(", ", rows)}";
    }

    private (SpanAssembler Assembler, SegmentCatalog Catalog, SegmentWriter Writer) Parts(AssemblerOptions? options = null)
    {
        var catalog = SegmentCatalog.Open(_folder.Path);
        return (new SpanAssembler(options ?? new AssemblerOptions(), _budget, _time), catalog, new SegmentWriter(catalog.SegmentsFolder));
    }
}
