using TraceStore.Engine;
using TraceStore.Engine.Compaction;
using TraceStore.Engine.Ingest;
using TraceStore.Protocol.Content;
using TraceStore.Query.Traces;
using TraceStore.Testing;

namespace TraceStore.Query.Tests.Compaction;

/// <summary>A whole store (WAL, assembler, sealer, catalog, maintenance) on a temporary folder, opened with a clock the
/// test sets and, unless told otherwise, no background maintenance: the test runs passes itself.</summary>
internal sealed class StoreFixture : IAsyncDisposable
{
    private readonly TempDirectory _folder = new("store-compaction");
    private Func<TraceStoreOptions, TraceStoreOptions> _configure;

    public StoreFixture(Func<TraceStoreOptions, TraceStoreOptions>? configure = null)
    {
        _configure = configure ?? (o => o);
        Store = Open();
    }

    public ManualClock Clock { get; } = new(DateTimeOffset.FromUnixTimeMilliseconds(1_763_700_000_000));

    public Engine.TraceStore Store { get; private set; }

    public string Folder => _folder.Path;

    public async Task<long> IngestAsync(byte[] body, string experiment = "exp", OtlpPayloadFormat format = OtlpPayloadFormat.Protobuf, OtlpContentEncoding encoding = OtlpContentEncoding.Identity)
    {
        var result = await Store.IngestAsync(new OtlpPayload(body, format, encoding), experiment);
        Assert.Equal(IngestOutcome.Accepted, result.Outcome);
        return result.AcceptedSpans;
    }

    /// <summary>Ingests <paramref name="spans"/> and seals them as a segment of their own.</summary>
    public async Task SealAsync(string experiment, params (int Trace, int Span, long StartMs)[] spans)
    {
        await IngestAsync(TestSpans.Body(spans), experiment);
        Assert.True(Store.SealAll() > 0);
    }

    /// <summary>A store (background loop off: the test runs rounds) whose every segment counts as small, holding
    /// <paramref name="count"/> segments, each with a trace of its own (trace 100 + i) and one span of trace 3 (so
    /// trace 3 lies in all of them).</summary>
    public static async Task<StoreFixture> WithSmallSegments(int count, CompactionOptions compaction)
    {
        var store = new StoreFixture(o => o with
        {
            Compaction = compaction with { RunInBackground = false, SmallSegmentBytes = 1L << 30, TargetSegmentBytes = 1L << 30 },
        });
        for (var segment = 0; segment < count; segment++)
        {
            await store.SealAsync("exp", (100 + segment, 0, 1_763_700_000_000 + segment), (3, segment, 1_763_700_000_000 + segment));
        }

        Assert.Equal(count, store.Store.GetStats().Segments);
        return store;
    }

    /// <summary>Each trace's GetTrace JSON (null when not found).</summary>
    public List<string?> Snapshot(IEnumerable<string> traceIds)
    {
        using var reader = new TraceReader(Store.Catalog);
        return [.. traceIds.Select(id => reader.Get(id) is { } trace ? GetTraceJson.ToJson(trace) : null)];
    }

    public StoredTrace? Get(string traceId)
    {
        using var reader = new TraceReader(Store.Catalog);
        return reader.Get(traceId);
    }

    public T WithMutations<T>(Func<TraceMutations, T> change)
    {
        using var reader = new TraceReader(Store.Catalog);
        return change(new TraceMutations(Store.Catalog, reader));
    }

    /// <summary>Closes the store and opens it again, with new settings when <paramref name="configure"/> is given.</summary>
    public async Task ReopenAsync(Func<TraceStoreOptions, TraceStoreOptions>? configure = null)
    {
        await Store.DisposeAsync();
        _configure = configure ?? _configure;
        Store = Open();
    }

    public async ValueTask DisposeAsync()
    {
        await Store.DisposeAsync();
        _folder.Dispose();
    }

    private Engine.TraceStore Open() => Engine.TraceStore.Open(_configure(new TraceStoreOptions
    {
        DataDirectory = _folder.Path,
        MemoryBudgetBytes = 256L << 20,
        Compaction = new CompactionOptions { RunInBackground = false },
        TimeProvider = Clock,
    }));
}
