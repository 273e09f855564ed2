using TraceStore.DuckDb;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Hot;
using TraceStore.Engine.Segments;
using TraceStore.Engine.Traces;

namespace TraceStore.Query.Traces;

/// <summary>
/// Reads one trace back, sealed or not (docs/reads.md). With a <see cref="HotIndex"/>, the unsealed parts are read
/// first (the assembler's open buffers and the sealer's pending traces), then the catalog: a trace moving from one to
/// the next during the read is seen in at least one. Sealed parts come from the segments the catalog's trace index
/// names (only those files are opened; sorted ids and row-group statistics keep each read to about a row group).
/// A trace in several places (sealed in parts, late spans, retries, a trace caught between pending and committed) is
/// merged: each span once (the copy stored first wins: sealed before unsealed, older segments first), and one summary:
/// the latest sealed one, or the unsealed trace's (IN_PROGRESS until its root has ended), or both merged
/// (<see cref="HotSummary.Combine"/>). Tags: the summary's, then the changes compaction folded into the trace's
/// segments, then the overlay's. Each read holds a catalog read lease, so compaction cannot delete a folder it is
/// reading. Not thread-safe: one reader per thread.
/// </summary>
public sealed class TraceReader : IDisposable
{
    /// <summary>Most spans one page may hold.</summary>
    public const int MaxPageSize = 10_000;

    private static readonly System.Buffers.SearchValues<char> LowerHex = System.Buffers.SearchValues.Create("0123456789abcdef");

    private readonly SegmentCatalog _catalog;
    private readonly HotIndex? _hot;
    private readonly DuckDbDatabase _database;
    private readonly DuckDbConnection _connection;

    /// <param name="hot">The store's unsealed traces (<see cref="Engine.TraceStore.Hot"/>); null reads committed
    /// segments only.</param>
    public TraceReader(SegmentCatalog catalog, HotIndex? hot = null)
    {
        _catalog = catalog;
        _hot = hot;
        _database = DuckDbDatabase.OpenInMemory(new DuckDbDatabaseOptions { Threads = 1 });
        _connection = _database.Connect();

        // Segment files never change once committed (a new seal or a compaction writes a new folder), so their Parquet
        // footers are cached across this reader's queries: paging a trace reads each footer once, not once per page.
        // (A setting of the parquet extension: it can be set once the database has loaded it, not at open.)
        _connection.Execute("SET parquet_metadata_cache = true");
    }

    /// <summary>A reader of every trace of <paramref name="store"/>, sealed or not.</summary>
    public static TraceReader Open(Engine.TraceStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        return new TraceReader(store.Catalog, store.Hot);
    }

    /// <summary>The whole trace with MLflow id <paramref name="traceId"/> (<c>tr-</c> + 32 hex), or null when the
    /// store does not hold it (or it was deleted). Holds every span in memory: for large traces use
    /// <see cref="GetPage"/>.</summary>
    public StoredTrace? Get(string traceId)
    {
        using var lease = _catalog.AcquireReadLease();
        if (!Exists(traceId))
        {
            return null;
        }

        using var hot = _hot?.Find(SealedTraceQueries.ParseTraceId(traceId));
        var segments = _catalog.SegmentsHolding(traceId);
        var spans = new List<SpanRow>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var segment in segments)
        {
            foreach (var span in ReadSpans(segment, traceId))
            {
                if (seen.Add(span.SpanId))
                {
                    spans.Add(span);
                }
            }
        }

        var summary = LatestSealedSummary(segments, traceId);
        if (hot?.Read() is { } buffer)
        {
            for (var i = 0; i < buffer.Spans.Count; i++)
            {
                var row = SpanRows.FromBuffer(buffer, i, traceId);
                if (seen.Add(row.SpanId))
                {
                    spans.Add(row);
                }
            }

            summary = summary is null ? HotSummary.Of(buffer) : HotSummary.Combine(SealedTraceParts.Load(_connection, segments, traceId, summary), buffer);
        }

        return summary is null ? null : new StoredTrace(WithTagChanges(summary, segments), [.. spans.OrderBy(s => s.StartTimeNs).ThenBy(s => s.SpanId, StringComparer.Ordinal)]);
    }

    /// <summary>
    /// One page of the trace's spans, ordered by (start time, span id), with the trace's summary: at most
    /// <paramref name="pageSize"/> spans after <paramref name="pageToken"/> (null: from the first). Never holds the whole
    /// trace: sealed spans are read a page at a time (<see cref="SealedSpanPage"/>), unsealed ones from memory.
    /// <see cref="TracePage.NextPageToken"/> is null on the last page. Null when the store does not hold the trace.
    /// </summary>
    /// <exception cref="TraceStoreQueryException">A page size outside 1..<see cref="MaxPageSize"/> or a token this
    /// reader did not write (<see cref="QueryErrorCode.InvalidParameterValue"/>).</exception>
    public TracePage? GetPage(string traceId, int pageSize, string? pageToken = null)
    {
        if (pageSize is < 1 or > MaxPageSize)
        {
            throw new TraceStoreQueryException(QueryErrorCode.InvalidParameterValue, $"page_size must be between 1 and {MaxPageSize}; it was {pageSize}.");
        }

        var after = SpanPageToken.Decode(pageToken);
        using var lease = _catalog.AcquireReadLease();
        if (!Exists(traceId))
        {
            return null;
        }

        using var hot = _hot?.Find(SealedTraceQueries.ParseTraceId(traceId));
        var segments = _catalog.SegmentsHolding(traceId);
        var summary = LatestSealedSummary(segments, traceId);
        var buffer = hot?.Read();
        if (buffer is not null)
        {
            summary = summary is null
                ? HotSummary.Of(buffer)
                : HotSummary.Combine(SealedTraceParts.Load(_connection, segments, traceId, summary), buffer);
        }

        if (summary is null)
        {
            return null;
        }

        // The first pageSize + 1 of each side contain the first pageSize + 1 of the union; the extra one says whether
        // another page follows. A span on both sides (a retry across a seal) is kept once, the sealed copy.
        var candidates = SealedSpanPage.Read(_connection, segments, traceId, after, pageSize + 1);
        var keys = candidates.Select(s => (s.StartTimeNs, s.SpanId)).ToHashSet();
        if (buffer is not null)
        {
            candidates.AddRange(HotPage(buffer, traceId, after, pageSize + 1).Where(s => !keys.Contains((s.StartTimeNs, s.SpanId))));
        }

        var ordered = candidates.OrderBy(s => s.StartTimeNs).ThenBy(s => s.SpanId, StringComparer.Ordinal).Take(pageSize + 1).ToList();
        string? next = null;
        if (ordered.Count > pageSize)
        {
            ordered.RemoveAt(pageSize);
            var last = ordered[^1];
            next = SpanPageToken.Encode(new SpanCursor(last.StartTimeNs, ulong.Parse(last.SpanId, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture)));
        }

        return new TracePage(WithTagChanges(summary, segments), ordered, next);
    }

    public void Dispose()
    {
        _connection.Dispose();
        _database.Dispose();
    }

    /// <summary>A well-formed id that is not deleted. Ids this store can hold are tr- and 32 lowercase hex digits;
    /// anything else is simply not here.</summary>
    private bool Exists(string traceId)
    {
        ArgumentNullException.ThrowIfNull(traceId);
        return IsTraceId(traceId) && !_catalog.Overlay.IsDeleted(traceId);
    }

    private TraceSummary? LatestSealedSummary(IReadOnlyList<SegmentInfo> segments, string traceId) =>
        SealedTraceQueries.LatestSummaries(_connection, segments, [traceId]).TryGetValue(traceId, out var latest) ? latest.Summary : null;

    private List<SpanRow> ReadSpans(SegmentInfo segment, string traceId)
    {
        using var query = _connection.Prepare(SegmentFormat.SpansOfTraceSql(segment.Folder));
        query.Bind(1, traceId);
        using var result = query.Execute();
        return [.. result.ReadAllRows().Select(r => SpanRows.FromSegmentRow(traceId, r))];
    }

    /// <summary>The first <paramref name="limit"/> unsealed spans after <paramref name="after"/>, in page order.</summary>
    private static IEnumerable<SpanRow> HotPage(TraceBuffer buffer, string traceId, SpanCursor after, int limit)
    {
        var indexes = new List<int>();
        for (var i = 0; i < buffer.Spans.Count; i++)
        {
            ref readonly var span = ref buffer.Spans[i];
            if (after.IsBefore((long)span.StartTimeUnixNano, span.SpanId.Value))
            {
                indexes.Add(i);
            }
        }

        indexes.Sort((a, b) =>
        {
            ref readonly var x = ref buffer.Spans[a];
            ref readonly var y = ref buffer.Spans[b];
            return x.StartTimeUnixNano != y.StartTimeUnixNano ? x.StartTimeUnixNano.CompareTo(y.StartTimeUnixNano) : x.SpanId.Value.CompareTo(y.SpanId.Value);
        });
        return indexes.Take(limit).Select(i => SpanRows.FromBuffer(buffer, i, traceId));
    }

    /// <summary>
    /// The summary's tags, then the tag changes compaction folded into any of the trace's segments (in change order: a
    /// summary the sealer wrote after a fold, from spans alone, does not carry them), then the overlay's (a null value:
    /// deleted).
    /// </summary>
    private TraceSummary WithTagChanges(TraceSummary summary, IReadOnlyList<SegmentInfo> segments)
    {
        var folded = new Dictionary<string, (string? Value, long Sequence)>(StringComparer.Ordinal);
        foreach (var segment in segments)
        {
            ReadFoldedTagChanges(segment, summary.TraceId, folded);
        }

        var merged = new SortedDictionary<string, string>(summary.Tags.ToDictionary(), StringComparer.Ordinal);
        Apply(merged, folded.Select(e => KeyValuePair.Create(e.Key, e.Value.Value)));
        Apply(merged, _catalog.Overlay.TagChanges(summary.TraceId));
        return summary with { Tags = merged };
    }

    private static void Apply(SortedDictionary<string, string> tags, IEnumerable<KeyValuePair<string, string?>> changes)
    {
        foreach (var (key, value) in changes)
        {
            if (value is null)
            {
                tags.Remove(key);
            }
            else
            {
                tags[key] = value;
            }
        }
    }

    /// <summary>The tag changes compaction folded into <paramref name="segment"/> for the trace (none when the segment
    /// has no <see cref="SegmentFormat.TagChangesFile"/>), merged into <paramref name="changes"/> by change number.</summary>
    private void ReadFoldedTagChanges(SegmentInfo segment, string traceId, Dictionary<string, (string? Value, long Sequence)> changes)
    {
        var path = Path.Combine(segment.Folder, SegmentFormat.TagChangesFile);
        if (!File.Exists(path))
        {
            return;
        }

        using var query = _connection.Prepare($"SELECT key, value, deleted, change_seq FROM read_parquet({DuckDbSql.Literal(path)}) WHERE trace_id = $1");
        query.Bind(1, traceId);
        using var result = query.Execute();
        foreach (var r in result.ReadAllRows())
        {
            var (key, sequence) = ((string)r[0]!, (long)r[3]!);
            if (!changes.TryGetValue(key, out var known) || known.Sequence < sequence)
            {
                changes[key] = ((bool)r[2]! ? null : (string?)r[1], sequence);
            }
        }
    }

    private static bool IsTraceId(string traceId) =>
        traceId.Length == 35 && traceId.StartsWith("tr-", StringComparison.Ordinal) && !traceId.AsSpan(3).ContainsAnyExcept(LowerHex);
}
