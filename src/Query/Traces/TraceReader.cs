using TraceStore.DuckDb;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Segments;
using TraceStore.Engine.Traces;

namespace TraceStore.Query.Traces;

/// <summary>
/// Reads one trace back from sealed segments: the catalog's trace index names the segments that hold the id, and
/// only those segments' files are opened (sorted ids and row-group statistics keep each read to about a row group).
/// A trace sealed in parts (late spans, large traces) is merged: spans are deduplicated by span id (the first stored
/// wins, as in the assembler), and the summary is the one sealed last. Not thread-safe: one reader per thread.
/// </summary>
public sealed class TraceReader : IDisposable
{
    private static readonly System.Buffers.SearchValues<char> LowerHex = System.Buffers.SearchValues.Create("0123456789abcdef");

    private readonly SegmentCatalog _catalog;
    private readonly DuckDbDatabase _database;
    private readonly DuckDbConnection _connection;

    public TraceReader(SegmentCatalog catalog)
    {
        _catalog = catalog;
        _database = DuckDbDatabase.OpenInMemory(new DuckDbDatabaseOptions { Threads = 1 });
        _connection = _database.Connect();
    }

    /// <summary>The trace with MLflow id <paramref name="traceId"/> (<c>tr-</c> + 32 hex), or null when no committed
    /// segment holds it.</summary>
    public StoredTrace? Get(string traceId)
    {
        ArgumentNullException.ThrowIfNull(traceId);
        if (!IsTraceId(traceId))
        {
            // Ids this store can hold are tr- and 32 lowercase hex digits; anything else is simply not here.
            return null;
        }

        if (_catalog.Overlay.IsDeleted(traceId))
        {
            return null;
        }

        TraceSummary? summary = null;
        var spans = new List<SpanRow>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var segment in _catalog.SegmentsHolding(traceId))
        {
            if (SegmentSummaryReader.Read(_connection, segment, traceId) is { } latest)
            {
                summary = latest;
            }

            foreach (var span in ReadSpans(segment, traceId))
            {
                if (seen.Add(span.SpanId))
                {
                    spans.Add(span);
                }
            }
        }

        if (summary is null)
        {
            return null;
        }

        return new StoredTrace(summary with { Tags = ApplyTagChanges(summary.Tags, _catalog.Overlay.TagChanges(traceId)) }, [.. spans.OrderBy(s => s.StartTimeNs).ThenBy(s => s.SpanId, StringComparer.Ordinal)]);
    }

    public void Dispose()
    {
        _connection.Dispose();
        _database.Dispose();
    }

    private List<SpanRow> ReadSpans(SegmentInfo segment, string traceId)
    {
        using var query = _connection.Prepare(SegmentFormat.SpansOfTraceSql(segment.Folder));
        query.Bind(1, traceId);
        using var result = query.Execute();
        var spans = new List<SpanRow>();
        foreach (var r in result.ReadAllRows())
        {
            // Column order: SegmentFormat.SpansOfTraceSql.
            var attributes = ((List<KeyValuePair<object, object?>>)r[15]!).Select(e => new KeyValuePair<string, string>((string)e.Key, (string)e.Value!)).ToList();
            if (r[21] is string inputsKey)
            {
                attributes.Add(new(inputsKey, (string)r[22]!));
            }

            if (r[23] is string outputsKey)
            {
                attributes.Add(new(outputsKey, (string)r[24]!));
            }

            var events = ((List<object?>)r[16]!).Cast<Dictionary<string, object?>>()
                .Select(e => new EventRow((string)e["name"]!, (long)e["time_ns"]!, (string?)e["attributes"]))
                .ToList();
            spans.Add(new SpanRow(traceId, (string)r[0]!, (string?)r[1], (string)r[2]!, (long)r[5]!, (long?)r[6], (string)r[7]!, (string?)r[8], attributes, events));
        }

        return spans;
    }

    /// <summary>The sealed tags with the overlay's later changes on top (a null value: deleted).</summary>
    private static SortedDictionary<string, string> ApplyTagChanges(IReadOnlyDictionary<string, string> tags, IReadOnlyDictionary<string, string?> changes)
    {
        var merged = new SortedDictionary<string, string>(tags.ToDictionary(), StringComparer.Ordinal);
        foreach (var (key, value) in changes)
        {
            if (value is null)
            {
                merged.Remove(key);
            }
            else
            {
                merged[key] = value;
            }
        }

        return merged;
    }

    private static bool IsTraceId(string traceId) =>
        traceId.Length == 35 && traceId.StartsWith("tr-", StringComparison.Ordinal) && !traceId.AsSpan(3).ContainsAnyExcept(LowerHex);
}
