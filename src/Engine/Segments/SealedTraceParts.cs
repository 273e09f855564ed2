using System.Buffers.Text;
using TraceStore.DuckDb;
using TraceStore.Engine.Assembly;
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
/// <para>Memory (<see cref="FootprintBytes"/>, counted from capacities): about 8 bytes of parent and 4 of size per
/// stored span, the id index (<see cref="SpanNumberIndex"/>: 17 to 35 bytes per span) and the spans with token
/// usage. Everything is held in pieces below the large-object threshold (85,000 bytes), so a million-span trace
/// grows by small allocations, never by doubling one large array (each doubling left the old copy as garbage on the
/// large-object heap, which only a full collection frees).</para>
/// </summary>
internal sealed class SealedTraceParts
{
    /// <summary>Spans per chunk of parents (64 KB) and most sizes per sorted run (32 KB).</summary>
    private const int ChunkSpans = 8192;

    private readonly SpanNumberIndex _index = new();
    private readonly List<ulong[]> _parents = [];
    private readonly List<int[]> _sizeRuns = [];
    private readonly Dictionary<int, TokenUsage> _usage = [];

    private SealedTraceParts(TraceSummary summary) => Summary = summary;

    /// <summary>The summary sealed last (highest seal sequence).</summary>
    public TraceSummary Summary { get; private set; }

    /// <summary>The seal sequence of the segment this describes the trace up to (0 when read back: unknown).</summary>
    public long CoversThroughSequence { get; private set; }

    /// <summary>Distinct stored spans, numbered 0..Count-1 in the order first read (<see cref="TryGetIndex"/>).</summary>
    public int Count { get; private set; }

    /// <summary>The token usage of the stored spans that carry one, by span number.</summary>
    public IReadOnlyDictionary<int, TokenUsage> Usage => _usage;

    public long FootprintBytes
    {
        get
        {
            var bytes = 256 + _index.FootprintBytes + (_parents.Count * ((ChunkSpans * 8L) + 32)) + (_usage.EnsureCapacity(0) * 72L);
            foreach (var run in _sizeRuns)
            {
                bytes += (run.Length * 4L) + 32;
            }

            return bytes;
        }
    }

    public bool Contains(ulong spanId) => _index.TryGetValue(spanId, out _);

    /// <summary>Where span <paramref name="spanId"/> is among the stored spans (its number), if it is stored.</summary>
    public bool TryGetIndex(ulong spanId, out int index) => _index.TryGetValue(spanId, out index);

    /// <summary>The parent span id of stored span number <paramref name="index"/> (0: none).</summary>
    public ulong ParentOf(int index) => _parents[index / ChunkSpans][index % ChunkSpans];

    /// <summary>Size statistics over every stored span and <paramref name="added"/> (the sizes of spans not stored,
    /// sorted in place), exactly as <see cref="SpanSize.StatsOf"/> over all of them: the percentiles select ranks
    /// across the sorted runs, so nothing of the size of the whole trace is allocated or sorted again.</summary>
    public SpanSizeStats SizeStatsWith(Span<long> added)
    {
        added.Sort();
        var count = Count + added.Length;
        ArgumentOutOfRangeException.ThrowIfZero(count, nameof(added));
        long total = 0, max = long.MinValue, min = long.MaxValue;
        foreach (var size in added)
        {
            total += size;
        }

        if (!added.IsEmpty)
        {
            (min, max) = (added[0], added[^1]);
        }

        foreach (var run in _sizeRuns)
        {
            foreach (var size in run)
            {
                total += size;
            }

            (min, max) = (Math.Min(min, run[0]), Math.Max(max, run[^1]));
        }

        var sorted = added.ToArray();
        long At(int rank) => Ranked(sorted, rank, min, max);
        return new SpanSizeStats(total, count, max, SpanSize.Percentile(count, At, 0.25), SpanSize.Percentile(count, At, 0.50), SpanSize.Percentile(count, At, 0.75));
    }

    /// <summary><paramref name="buffer"/> itself when none of its spans is stored already, else a copy of the ones
    /// that are not (possibly none; transient, not counted in the budget, at most the buffer's own size), stamped
    /// <paramref name="ticks"/> as first and last seen.</summary>
    public TraceBuffer WithoutStored(TraceBuffer buffer, long ticks)
    {
        var stored = 0;
        foreach (ref readonly var span in buffer.Spans.AsSpan())
        {
            stored += Contains(span.SpanId.Value) ? 1 : 0;
        }

        if (stored == 0)
        {
            return buffer;
        }

        var fresh = new TraceBuffer(buffer.Key, ticks);
        for (var span = 0; span < buffer.Spans.Count; span++)
        {
            if (!Contains(buffer.Spans[span].SpanId.Value))
            {
                fresh.AppendCopy(buffer, span, ticks);
            }
        }

        return fresh;
    }

    /// <summary>What the parts are once <paramref name="added"/> (spans not among them) is sealed with
    /// <paramref name="summary"/> in segment <paramref name="sealSequence"/>: kept by the sealer for the next part of
    /// a large trace, so it is not read back again (<paramref name="earlier"/> null: the trace's first part).</summary>
    public static SealedTraceParts Extend(SealedTraceParts? earlier, TraceBuffer added, TraceSummary summary, long sealSequence)
    {
        var parts = earlier ?? new SealedTraceParts(summary);
        var sizes = new List<int>(Math.Min(added.Spans.Count, ChunkSpans));
        foreach (ref readonly var span in added.Spans.AsSpan())
        {
            if (parts.Add(span.SpanId.Value, span.ParentSpanId.Value, span.Usage))
            {
                sizes.Add(checked((int)SpanSize.Of(added, span)));
            }
        }

        parts.AddSizes(sizes);
        parts.Summary = summary;
        parts.CoversThroughSequence = sealSequence;
        return parts;
    }

    /// <summary>The trace's segments were merged by compaction into segment <paramref name="sealSequence"/> with the
    /// same spans: this still describes them, up to that segment.</summary>
    public void Recheck(long sealSequence) => CoversThroughSequence = sealSequence;

    /// <summary>Reads the parts of <paramref name="traceId"/> stored in <paramref name="segments"/> (the segments the
    /// catalog's trace index names, in seal order). Null when none of them holds a summary of it.</summary>
    public static SealedTraceParts? Load(DuckDbConnection connection, IReadOnlyList<SegmentInfo> segments, string traceId)
    {
        var summary = SealedTraceQueries.LatestSummaries(connection, segments, [traceId]).TryGetValue(traceId, out var latest) ? latest.Summary : null;
        return summary is null ? null : Load(connection, segments, traceId, summary);
    }

    /// <summary>Reads the parts of <paramref name="traceId"/> stored in <paramref name="segments"/> whose latest
    /// summary, <paramref name="latest"/>, the caller has read already (reads look summaries up for many traces in one
    /// query).</summary>
    public static SealedTraceParts Load(DuckDbConnection connection, IReadOnlyList<SegmentInfo> segments, string traceId, TraceSummary latest)
    {
        var parts = new SealedTraceParts(latest);
        var sizes = new List<int>(ChunkSpans);
        foreach (var segment in segments)
        {
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
                    parts.Read(chunk, sizes);
                }
            }
        }

        parts.AddSizes(sizes);
        return parts;
    }

    private void Read(DuckDbDataChunk chunk, List<int> sizes)
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
            TokenUsage? usage = input.IsNull(row) && output.IsNull(row) && total.IsNull(row) ? null : new TokenUsage(
                Optional(input, row) ?? 0,
                Optional(output, row) ?? 0,
                Optional(total, row) ?? 0,
                Optional(cacheRead, row),
                Optional(cacheCreation, row));
            if (Add(ParseSpanId(ids.GetBytes(row)), parentIds.IsNull(row) ? 0 : ParseSpanId(parentIds.GetBytes(row)), usage))
            {
                sizes.Add(size.GetInt32(row));
                if (sizes.Count == ChunkSpans)
                {
                    AddSizes(sizes);
                }
            }
        }
    }

    /// <summary>Numbers a span not stored yet (false: stored already, nothing changes).</summary>
    private bool Add(ulong spanId, ulong parent, TokenUsage? usage)
    {
        if (!_index.TryAdd(spanId, Count))
        {
            return false;
        }

        if (Count % ChunkSpans == 0)
        {
            _parents.Add(new ulong[ChunkSpans]);
        }

        _parents[^1][Count % ChunkSpans] = parent;
        if (usage is { } own)
        {
            _usage[Count] = own;
        }

        Count++;
        return true;
    }

    /// <summary>Adds <paramref name="sizes"/> as sorted runs of at most <see cref="ChunkSpans"/> (a short last run is
    /// merged with them first, so many small parts do not make many tiny runs) and clears the list.</summary>
    private void AddSizes(List<int> sizes)
    {
        if (sizes.Count == 0)
        {
            return;
        }

        if (_sizeRuns.Count > 0 && _sizeRuns[^1].Length < ChunkSpans / 2)
        {
            sizes.AddRange(_sizeRuns[^1]);
            _sizeRuns.RemoveAt(_sizeRuns.Count - 1);
        }

        sizes.Sort();
        for (var at = 0; at < sizes.Count; at += ChunkSpans)
        {
            _sizeRuns.Add([.. sizes.GetRange(at, Math.Min(ChunkSpans, sizes.Count - at))]);
        }

        sizes.Clear();
    }

    /// <summary>The size of rank <paramref name="rank"/> (0: smallest) among the stored sizes and
    /// <paramref name="added"/> (sorted): the smallest value with more than <paramref name="rank"/> sizes at or below
    /// it, by bisection over [<paramref name="min"/>, <paramref name="max"/>].</summary>
    private long Ranked(long[] added, int rank, long min, long max)
    {
        var (low, high) = (min, max);
        while (low < high)
        {
            var middle = low + ((high - low) / 2);
            long atOrBelow = UpperBound(added, middle);
            foreach (var run in _sizeRuns)
            {
                atOrBelow += UpperBound(run, middle);
            }

            if (atOrBelow > rank)
            {
                high = middle;
            }
            else
            {
                low = middle + 1;
            }
        }

        return low;
    }

    private static int UpperBound(long[] sorted, long value)
    {
        var (low, high) = (0, sorted.Length);
        while (low < high)
        {
            var middle = (low + high) >>> 1;
            (low, high) = sorted[middle] <= value ? (middle + 1, high) : (low, middle);
        }

        return low;
    }

    private static int UpperBound(int[] sorted, long value)
    {
        var (low, high) = (0, sorted.Length);
        while (low < high)
        {
            var middle = (low + high) >>> 1;
            (low, high) = sorted[middle] <= value ? (middle + 1, high) : (low, middle);
        }

        return low;
    }

    private static long? Optional(DuckDbVector vector, int row) => vector.IsNull(row) ? null : vector.GetInt64(row);

    private static ulong ParseSpanId(ReadOnlySpan<byte> hex) =>
        Utf8Parser.TryParse(hex, out ulong value, out var consumed, 'x') && consumed == hex.Length
            ? value
            : throw new InvalidDataException($"A stored span id is not 16 hex digits: '{System.Text.Encoding.UTF8.GetString(hex)}'.");
}
