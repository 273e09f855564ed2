using Google.Protobuf;
using TraceStore.DuckDb;
using OpenTelemetry.Proto.Collector.Trace.V1;
using TraceStore.Engine.Admission;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Segments;
using TraceStore.OtlpOracle;
using TraceStore.Protocol.Model;
using TraceStore.Query.Traces;
using TraceStore.Testing;

namespace TraceStore.Query.Tests.Traces;

public sealed class SegmentCompactorTests : IDisposable
{
    private readonly TempDirectory _folder = new("compaction");
    private readonly SegmentCatalog _catalog;
    private readonly SpanAssembler _assembler = new(new AssemblerOptions(), new MemoryBudget(64L << 20));
    private long _seal;

    public SegmentCompactorTests() => _catalog = SealedTraces.Create(_folder.Path);

    public void Dispose()
    {
        _catalog.Dispose();
        _folder.Dispose();
    }

    [Fact]
    public void Small_segments_merge_into_one_that_reads_back_the_same_without_duplicates_or_deleted_traces()
    {
        _seal = 1;
        var body = OtlpTestRequests.Protobuf(6, spansPerTrace: 6, seed: 11);
        var traceId = "tr-" + Decode(body).Spans[0].TraceId.ToHex();
        Seal(Decode(FirstSpans(body, 4)));
        Seal(Decode(body));
        using (var reader = new TraceReader(_catalog))
        {
            new TraceMutations(_catalog, reader).DeleteTraces("exp", [SealedTraces.Id(1)]);
        }

        var before = Snapshot([traceId, SealedTraces.Id(2), SealedTraces.Id(4)]);
        var oldFolders = _catalog.Segments().Select(s => s.Folder).ToList();
        Assert.Equal(3, oldFolders.Count);

        using var compactor = new SegmentCompactor(_catalog);
        var plan = compactor.Plan(smallBytes: 1L << 30, targetBytes: 1L << 30);
        Assert.Equal(3, plan.Count);
        var merged = compactor.Merge(plan)!;

        Assert.Equal([merged.SealSequence], _catalog.Segments().Select(s => s.SealSequence));
        Assert.Equal([merged.SealSequence], _catalog.SegmentsHolding(traceId).Select(s => s.SealSequence));
        Assert.Empty(_catalog.SegmentsHolding(SealedTraces.Id(1)));
        Assert.All(oldFolders, folder => Assert.False(Directory.Exists(folder)));
        Assert.Equal(4, merged.Traces);
        Assert.Equal(9, merged.Spans);
        Assert.Equal(before, Snapshot([traceId, SealedTraces.Id(2), SealedTraces.Id(4)]));
        using var after = new TraceReader(_catalog);
        Assert.Null(after.Get(SealedTraces.Id(1)));
        AssertAttrsMatchSpans(merged);
        Assert.Equal(6, after.Get(traceId)!.Spans.Count);
        Assert.Equal(6, after.Get(traceId)!.Summary.SpanCount);
    }

    [Fact]
    public void Plan_needs_two_small_segments()
    {
        using var compactor = new SegmentCompactor(_catalog);
        Assert.Empty(compactor.Plan(smallBytes: 1L << 30, targetBytes: 1L << 30));
        Assert.Empty(compactor.Plan(smallBytes: 1, targetBytes: 1L << 30));
    }

    /// <summary>The merged attrs file holds exactly the merged spans' attribute maps, each row naming its span by that
    /// span's row in the merged spans file.</summary>
    private static void AssertAttrsMatchSpans(SegmentInfo segment)
    {
        using var database = DuckDbDatabase.OpenInMemory();
        using var connection = database.Connect();
        var spans = DuckDbSql.Literal(Path.Combine(segment.Folder, SegmentFormat.SpansFile));
        var attrs = DuckDbSql.Literal(Path.Combine(segment.Folder, SegmentFormat.AttrsFile));
        var fromSpans = $"SELECT e.key, e.value, file_row_number FROM read_parquet({spans}, file_row_number = true), unnest(map_entries(attributes)) AS t(e)";
        var fromAttrs = $"SELECT key, value, span_row FROM read_parquet({attrs})";
        using var result = connection.Query(
            $"SELECT (SELECT count(*) FROM ({fromSpans})), (SELECT count(*) FROM ({fromAttrs})), (SELECT count(*) FROM ({fromSpans} EXCEPT ALL {fromAttrs}))");
        var row = Assert.Single(result.ReadAllRows());
        Assert.True((long)row[0]! > 0);
        Assert.Equal(row[0], row[1]);
        Assert.Equal(0L, row[2]);
    }

    /// <summary>The GetTrace JSON of each trace, for comparing reads before and after a merge.</summary>
    private List<string> Snapshot(string[] traceIds)
    {
        using var reader = new TraceReader(_catalog);
        return [.. traceIds.Select(id => GetTraceJson.ToJson(reader.Get(id)!))];
    }

    private void Seal(SpanBatch batch)
    {
        _assembler.Add(batch, "exp", walSequence: 1);
        using var writer = new SegmentWriter(_catalog.SegmentsFolder);
        _catalog.Commit(writer.Write(++_seal, [.. _assembler.TakeAll().Select(t => t.Buffer)]));
    }

    private static byte[] FirstSpans(byte[] body, int count)
    {
        var request = ExportTraceServiceRequest.Parser.ParseFrom(body);
        var spans = request.ResourceSpans[0].ScopeSpans[0].Spans;
        while (spans.Count > count)
        {
            spans.RemoveAt(spans.Count - 1);
        }

        return request.ToByteArray();
    }

    private static SpanBatch Decode(byte[] body) => DecodedBatches.Decode(body);
}
