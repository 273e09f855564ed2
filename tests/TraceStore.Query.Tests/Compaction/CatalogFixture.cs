using Microsoft.Extensions.Logging.Abstractions;
using TraceStore.DuckDb;
using TraceStore.Engine.Admission;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Segments;
using TraceStore.Protocol.Model;
using TraceStore.Query.Traces;
using TraceStore.Testing;

namespace TraceStore.Query.Tests.Compaction;

/// <summary>
/// A store folder driven piece by piece: the real catalog, assembler, segment writer and sealer (so late parts are
/// sealed the way the store seals them: earlier parts read back and the trace written whole), a compactor, and the
/// query layer's reader and mutations. <see cref="Reopen"/> closes everything and opens it again from disk.
/// </summary>
internal sealed class CatalogFixture : IDisposable
{
    private readonly TempDirectory _folder = new("compaction-fixture");
    private MemoryBudget _budget = null!;
    private SpanAssembler _assembler = null!;
    private SegmentWriter _writer = null!;
    private Sealer _sealer = null!;

    public CatalogFixture() => OpenAll();

    public string Folder => _folder.Path;

    public SegmentCatalog Catalog { get; private set; } = null!;

    public SegmentCompactor Compactor { get; private set; } = null!;

    public TraceReader Reader { get; private set; } = null!;

    public TraceMutations Mutations => new(Catalog, Reader);

    /// <summary>Assembles <paramref name="batch"/> into experiment <paramref name="experiment"/> and seals everything
    /// open as one segment; returns it.</summary>
    public SegmentInfo Seal(SpanBatch batch, string experiment = "exp")
    {
        _assembler.Add(batch, experiment, walSequence: 1);
        Assert.True(_sealer.SealNow(everything: true) > 0);
        return Catalog.Segments()[^1];
    }

    /// <summary>Merges every committed segment into one.</summary>
    public SegmentInfo? MergeAll() => Compactor.Merge(Catalog.Segments());

    /// <summary>Each trace's GetTrace JSON (null when not found), to compare reads before and after.</summary>
    public List<string?> Snapshot(IEnumerable<string> traceIds) =>
        [.. traceIds.Select(id => Reader.Get(id) is { } trace ? GetTraceJson.ToJson(trace) : null)];

    /// <summary>The tags map stored in <paramref name="segment"/>'s traces file for the trace (plain DuckDB, no overlay).</summary>
    public static Dictionary<string, string> StoredTags(SegmentInfo segment, string traceId) =>
        StoredTagEntries(segment, traceId).ToDictionary(e => e.Key, e => e.Value);

    /// <summary>The tags map of <see cref="StoredTags"/> as its entries, in stored order.</summary>
    public static List<KeyValuePair<string, string>> StoredTagEntries(SegmentInfo segment, string traceId)
    {
        using var database = DuckDbDatabase.OpenInMemory();
        using var connection = database.Connect();
        using var query = connection.Prepare($"SELECT tags FROM read_parquet({DuckDbSql.Literal(Path.Combine(segment.Folder, SegmentFormat.TracesFile))}) WHERE trace_id = $1");
        query.Bind(1, traceId);
        using var result = query.Execute();
        return [.. ((List<KeyValuePair<object, object?>>)result.ReadAllRows().Single()[0]!).Select(e => KeyValuePair.Create((string)e.Key, (string)e.Value!))];
    }

    public void Reopen()
    {
        CloseAll();
        OpenAll();
    }

    public void Dispose()
    {
        CloseAll();
        _folder.Dispose();
    }

    private void OpenAll()
    {
        Catalog = SegmentCatalog.Open(_folder.Path);
        Catalog.RemoveRetired();
        Catalog.RemoveUncommitted();
        _budget = new MemoryBudget(256L << 20);
        _assembler = new SpanAssembler(new AssemblerOptions(), _budget);
        _writer = new SegmentWriter(Catalog.SegmentsFolder);
        _sealer = new Sealer(_assembler, _budget, _writer, Catalog, () => { }, new SealerOptions(), NullLogger.Instance);
        Compactor = new SegmentCompactor(Catalog);
        Reader = new TraceReader(Catalog);
    }

    private void CloseAll()
    {
        Reader.Dispose();
        Compactor.Dispose();
        _sealer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _writer.Dispose();
        Catalog.Dispose();
    }
}
