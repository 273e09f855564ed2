using System.Buffers.Text;
using TraceStore.DuckDb;
using TraceStore.Engine.Traces;
using TraceStore.Protocol.GenAi;

namespace TraceStore.Engine.Segments;

/// <summary>
/// What the committed parts of one trace contribute to its next summary, read back without the heavy columns: the
/// latest sealed summary (which already folds previews, state, session, user and the distinct lists in arrival
/// order) and, per distinct stored span, its id, parent, token usage and size. That is all
/// <see cref="TraceSummaryMerger"/> needs to extend the summary exactly with newly arrived spans, so a trace sealed
/// in many parts (a million-span trace comes in parts of 10,000) costs one light scan per part instead of reading
/// and rewriting every earlier span.
/// <para>Memory: about 24 bytes per stored span plus the id index (<see cref="FootprintBytes"/>), held only while
/// the next summary is computed.</para>
/// </summary>
internal sealed class SealedTraceParts
{
    private readonly Dictionary<ulong, int> _index;

    private SealedTraceParts(TraceSummary summary, List<ulong> spanIds, List<ulong> parents, List<long> sizes, Dictionary<int, TokenUsage> usage, Dictionary<ulong, int> index)
    {
        Summary = summary;
        SpanIds = spanIds;
        Parents = parents;
        Sizes = sizes;
        Usage = usage;
        _index = index;
    }

    /// <summary>The summary sealed last (highest seal sequence).</summary>
    public TraceSummary Summary { get; }

    /// <summary>Each stored span once (the first copy read), as 64-bit span ids; <see cref="Parents"/> (0: none),
    /// <see cref="Sizes"/> (<see cref="SpanSize"/>) and <see cref="Usage"/> (by position) describe the same spans.</summary>
    public IReadOnlyList<ulong> SpanIds { get; }

    public IReadOnlyList<ulong> Parents { get; }

    public IReadOnlyList<long> Sizes { get; }

    public IReadOnlyDictionary<int, TokenUsage> Usage { get; }

    public int Count => SpanIds.Count;

    public long FootprintBytes => (Count * 24L) + (_index.Count * 24L);

    public bool Contains(ulong spanId) => _index.ContainsKey(spanId);

    /// <summary>Where span <paramref name="spanId"/> is in <see cref="SpanIds"/>, if it is stored.</summary>
    public bool TryGetIndex(ulong spanId, out int index) => _index.TryGetValue(spanId, out index);

    /// <summary>Reads the parts of <paramref name="traceId"/> stored in <paramref name="segments"/> (the segments the
    /// catalog's trace index names, in seal order). Null when none of them holds a summary of it.</summary>
    public static SealedTraceParts? Load(DuckDbConnection connection, IReadOnlyList<SegmentInfo> segments, string traceId)
    {
        TraceSummary? summary = null;
        var spanIds = new List<ulong>();
        var parents = new List<ulong>();
        var sizes = new List<long>();
        var usage = new Dictionary<int, TokenUsage>();
        var index = new Dictionary<ulong, int>();
        foreach (var segment in segments)
        {
            summary = SegmentSummaryReader.Read(connection, segment, traceId) ?? summary;
            var file = DuckDbSql.Literal(Path.Combine(segment.Folder, SegmentFormat.SpansFile));
            using var query = connection.Prepare(
                "SELECT span_id, parent_span_id, input_tokens, output_tokens, total_tokens, cache_read_input_tokens, cache_creation_input_tokens, size_bytes " +
                $"FROM read_parquet({file}) WHERE trace_id = $1");
            query.Bind(1, traceId);
            using var result = query.Execute();
            while (result.NextChunk() is { } chunk)
            {
                using (chunk)
                {
                    Read(chunk, spanIds, parents, sizes, usage, index);
                }
            }
        }

        return summary is null ? null : new SealedTraceParts(summary, spanIds, parents, sizes, usage, index);
    }

    private static void Read(DuckDbDataChunk chunk, List<ulong> spanIds, List<ulong> parents, List<long> sizes, Dictionary<int, TokenUsage> usage, Dictionary<ulong, int> index)
    {
        var ids = chunk[0];
        var parentIds = chunk[1];
        var input = chunk[2];
        var output = chunk[3];
        var total = chunk[4];
        var cacheRead = chunk[5];
        var cacheCreation = chunk[6];
        var size = chunk[7];
        for (var row = 0; row < chunk.RowCount; row++)
        {
            var id = ParseSpanId(ids.GetBytes(row));
            if (!index.TryAdd(id, spanIds.Count))
            {
                continue;
            }

            if (!input.IsNull(row) || !output.IsNull(row) || !total.IsNull(row))
            {
                usage[spanIds.Count] = new TokenUsage(
                    Optional(input, row) ?? 0,
                    Optional(output, row) ?? 0,
                    Optional(total, row) ?? 0,
                    Optional(cacheRead, row),
                    Optional(cacheCreation, row));
            }

            spanIds.Add(id);
            parents.Add(parentIds.IsNull(row) ? 0 : ParseSpanId(parentIds.GetBytes(row)));
            sizes.Add(size.GetInt32(row));
        }
    }

    private static long? Optional(DuckDbVector vector, int row) => vector.IsNull(row) ? null : vector.GetInt64(row);

    private static ulong ParseSpanId(ReadOnlySpan<byte> hex) =>
        Utf8Parser.TryParse(hex, out ulong value, out var consumed, 'x') && consumed == hex.Length
            ? value
            : throw new InvalidDataException($"A stored span id is not 16 hex digits: '{System.Text.Encoding.UTF8.GetString(hex)}'.");
}
