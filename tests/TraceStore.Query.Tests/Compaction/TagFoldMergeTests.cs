namespace TraceStore.Query.Tests.Compaction;

/// <summary>
/// The traces file's k-way merge rewrites the tags maps of the traces whose tag changes it folds
/// (<c>TracesMerge</c> with <c>TagFolds</c>): a folded map is ordered by key, every changed trace is rewritten across
/// the merge's output chunks (2,048 rows each) and no unchanged trace is touched.
/// </summary>
public sealed class TagFoldMergeTests : IDisposable
{
    private const long BaseMs = 1_763_700_000_000;
    private readonly CatalogFixture _store = new();

    public void Dispose() => _store.Dispose();

    [Fact]
    public void A_folded_tags_map_is_ordered_by_key_with_deleted_keys_gone()
    {
        _store.Seal(TestSpans.Batch((1, 0, BaseMs)));
        _store.Seal(TestSpans.Batch((2, 0, BaseMs + 1)));
        _store.Mutations.SetTag(Id(1), "zz.last", "1");
        _store.Mutations.SetTag(Id(1), "a.first", "2");
        _store.Mutations.SetTag(Id(1), "ä.non-ascii", "3");
        _store.Mutations.DeleteTag(Id(1), "mlflow.traceName");
        var before = _store.Snapshot([Id(1), Id(2)]);
        var untouched = CatalogFixture.StoredTagEntries(_store.Catalog.Segments()[1], Id(2));

        var merged = _store.MergeAll()!;

        var keys = CatalogFixture.StoredTagEntries(merged, Id(1)).Select(e => e.Key).ToList();
        Assert.Contains("a.first", keys);
        Assert.Contains("zz.last", keys);
        Assert.DoesNotContain("mlflow.traceName", keys);
        // UTF-8 byte order, as DuckDB orders VARCHAR: "ä" (0xC3 0xA4) after every ASCII key.
        Assert.Equal(keys.OrderBy(k => System.Text.Encoding.UTF8.GetBytes(k), Comparer<byte[]>.Create((a, b) => a.AsSpan().SequenceCompareTo(b))), keys);
        Assert.Equal("ä.non-ascii", keys[^1]);
        Assert.Equal(untouched, CatalogFixture.StoredTagEntries(merged, Id(2)));
        Assert.Equal(before, _store.Snapshot([Id(1), Id(2)]));
    }

    [Fact]
    public void Every_changed_trace_is_rewritten_across_output_chunks_and_no_other()
    {
        const int Traces = 2_400;
        _store.Seal(TestSpans.Batch([.. Enumerable.Range(1, Traces / 2).Select(t => (t, 0, BaseMs + t))]));
        _store.Seal(TestSpans.Batch([.. Enumerable.Range((Traces / 2) + 1, Traces / 2).Select(t => (t, 0, BaseMs + t))]));
        var tagged = Enumerable.Range(1, Traces).Where(t => t % 7 == 0).ToHashSet();
        foreach (var t in tagged)
        {
            _store.Mutations.SetTag(Id(t), "reviewed", $"r{t}");
        }

        var merged = _store.MergeAll()!;

        Assert.Equal(Traces, merged.Traces);
        var stored = StoredReviewedTags(merged);
        foreach (var t in Enumerable.Range(1, Traces))
        {
            var tags = stored[Id(t)];
            Assert.Equal($"root-{t}", tags.Name);
            Assert.Equal(tagged.Contains(t) ? $"r{t}" : null, tags.Reviewed);
        }
    }

    /// <summary>Every trace's stored <c>mlflow.traceName</c> and <c>reviewed</c> tags (null when absent), by plain
    /// DuckDB over the segment's traces file.</summary>
    private static Dictionary<string, (string? Name, string? Reviewed)> StoredReviewedTags(Engine.Segments.SegmentInfo segment)
    {
        using var database = DuckDb.DuckDbDatabase.OpenInMemory();
        using var connection = database.Connect();
        var file = DuckDb.DuckDbSql.Literal(Path.Combine(segment.Folder, Engine.Segments.SegmentFormat.TracesFile));
        using var result = connection.Query($"SELECT trace_id, tags['mlflow.traceName'], tags['reviewed'] FROM read_parquet({file})");
        return result.ReadAllRows().ToDictionary(row => (string)row[0]!, row => ((string?)row[1], (string?)row[2]));
    }

    private static string Id(int trace) => TestSpans.Id(trace);
}
