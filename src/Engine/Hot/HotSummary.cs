using System.Text.Json;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Traces;
using TraceStore.Protocol.GenAi;
using TraceStore.Protocol.Model;

namespace TraceStore.Engine.Hot;

/// <summary>
/// Summaries of traces that still have unsealed spans (docs/reads.md, "Summaries of unsealed traces").
/// <list type="bullet">
/// <item><see cref="Of"/>: a trace only in memory. <see cref="TraceSummaryBuilder"/>'s summary, except the state:
/// IN_PROGRESS until the root span has arrived <em>and ended</em>, then the root's.</item>
/// <item><see cref="Combine"/>: a trace with sealed parts and unsealed spans (late spans, the next part of a large
/// trace). The latest sealed summary already covers every sealed span; the unsealed spans that are not copies of
/// sealed ones are summarized on their own and the two are merged, so no sealed span is read again. Exact: request
/// time, duration, state, previews and trace name (from whichever part holds the first root: the sealed one, since it
/// arrived first), session and user (first seen), span and error counts, services, models and span types (in
/// first-seen order), size total, count and max. Approximate until the trace is sealed again (the sealer then
/// summarizes every span): token usage, where MLflow's nested-span rule is applied within each side but not across
/// (a span whose usage-carrying ancestor is on the other side is counted too), and the size percentiles, which
/// are the two sides' percentiles weighted by their span counts.</item>
/// </list>
/// </summary>
public static class HotSummary
{
    /// <summary>The summary of an unsealed trace held in <paramref name="buffer"/> (at least one span).</summary>
    public static TraceSummary Of(TraceBuffer buffer)
    {
        var summary = TraceSummaryBuilder.Build(buffer);
        return buffer.RootEnded ? summary : summary with { State = TraceState.InProgress };
    }

    /// <summary>
    /// The summary of a trace whose latest sealed summary is <paramref name="sealedSummary"/> and whose unsealed spans
    /// are in <paramref name="hot"/>; <paramref name="sealedSpanIds"/> are the ids among them that sealed parts hold
    /// already (client retries across a seal: the sealed copy counts, as the first stored).
    /// </summary>
    public static TraceSummary Combine(TraceSummary sealedSummary, TraceBuffer hot, IReadOnlySet<SpanId> sealedSpanIds)
    {
        ArgumentNullException.ThrowIfNull(sealedSummary);
        ArgumentNullException.ThrowIfNull(hot);
        var fresh = WithoutSpans(hot, sealedSpanIds);
        if (fresh is null)
        {
            return sealedSummary;
        }

        var later = Of(fresh);
        var rootSealed = sealedSummary.TraceName is not null;
        var root = rootSealed ? sealedSummary : later;
        var requestTime = Math.Min(sealedSummary.RequestTimeMs, later.RequestTimeMs);
        var end = Max(EndMs(sealedSummary), EndMs(later));
        var usage = Add(sealedSummary.TokenUsage, later.TokenUsage);
        var session = sealedSummary.SessionId ?? later.SessionId;
        var user = sealedSummary.UserId ?? later.UserId;
        var sizes = CombineSizes(SizeStatsOf(sealedSummary), later.SizeStats);
        var metadata = new SortedDictionary<string, string>(sealedSummary.Metadata.ToDictionary(), StringComparer.Ordinal);
        foreach (var (key, value) in TraceInfoMaps.Metadata(usage, session, user, sizes))
        {
            metadata[key] = value;
        }

        var tags = new SortedDictionary<string, string>(sealedSummary.Tags.ToDictionary(), StringComparer.Ordinal);
        foreach (var (key, value) in TraceInfoMaps.Tags(root.TraceName))
        {
            tags[key] = value;
        }

        return new TraceSummary
        {
            Key = hot.Key,
            RequestTimeMs = requestTime,
            ExecutionDurationMs = end is { } endMs ? endMs - requestTime : null,
            State = root.State,
            RequestPreview = root.RequestPreview,
            ResponsePreview = root.ResponsePreview,
            TokenUsage = usage,
            SessionId = session,
            UserId = user,
            TraceName = root.TraceName,
            SpanCount = sealedSummary.SpanCount + later.SpanCount,
            ErrorSpanCount = sealedSummary.ErrorSpanCount + later.ErrorSpanCount,
            SizeStats = sizes,
            ServiceNames = Union(sealedSummary.ServiceNames, later.ServiceNames),
            Models = Union(sealedSummary.Models, later.Models),
            SpanTypes = Union(sealedSummary.SpanTypes, later.SpanTypes),
            LowestWalSequence = later.LowestWalSequence,
            Metadata = metadata,
            Tags = tags,
        };
    }

    /// <summary>The size statistics of a summary: its own when built from spans, else parsed from its
    /// <c>mlflow.trace.sizeStats</c> metadata (a summary read back from a segment).</summary>
    public static SpanSizeStats SizeStatsOf(TraceSummary summary)
    {
        if (summary.SizeStats.NumSpans > 0 || !summary.Metadata.TryGetValue(TraceInfoKeys.SizeStats, out var json))
        {
            return summary.SizeStats;
        }

        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            long Field(string name) => root.TryGetProperty(name, out var value) && value.TryGetInt64(out var number) ? number : 0;
            return new SpanSizeStats(Field("total_size_bytes"), (int)Field("num_spans"), Field("max"), Field("p25"), Field("p50"), Field("p75"));
        }
        catch (JsonException)
        {
            return default;
        }
    }

    /// <summary>A copy of <paramref name="buffer"/> without the spans in <paramref name="drop"/>; the buffer itself when
    /// none is dropped; null when every span is.</summary>
    private static TraceBuffer? WithoutSpans(TraceBuffer buffer, IReadOnlySet<SpanId> drop)
    {
        var dropped = 0;
        foreach (ref readonly var span in buffer.Spans.AsSpan())
        {
            dropped += drop.Contains(span.SpanId) ? 1 : 0;
        }

        if (dropped == 0)
        {
            return buffer;
        }

        if (dropped == buffer.Spans.Count)
        {
            return null;
        }

        var kept = new TraceBuffer(buffer.Key, buffer.FirstSeenTicks);
        for (var i = 0; i < buffer.Spans.Count; i++)
        {
            if (!drop.Contains(buffer.Spans[i].SpanId))
            {
                kept.AppendCopy(buffer, i, buffer.LastSpanTicks);
            }
        }

        return kept;
    }

    private static long? EndMs(TraceSummary summary) => summary.ExecutionDurationMs is { } duration ? summary.RequestTimeMs + duration : null;

    private static long? Max(long? a, long? b) => a is null ? b : b is null ? a : Math.Max(a.Value, b.Value);

    private static TokenUsage? Add(TokenUsage? a, TokenUsage? b) => a is { } x ? (b is { } y ? x.Add(y) : x) : b;

    private static SpanSizeStats CombineSizes(SpanSizeStats a, SpanSizeStats b)
    {
        var count = a.NumSpans + b.NumSpans;
        if (a.NumSpans == 0 || b.NumSpans == 0)
        {
            return a.NumSpans == 0 ? b : a;
        }

        long Weighted(long x, long y) => ((x * a.NumSpans) + (y * b.NumSpans)) / count;
        return new SpanSizeStats(a.TotalSizeBytes + b.TotalSizeBytes, count, Math.Max(a.Max, b.Max), Weighted(a.P25, b.P25), Weighted(a.P50, b.P50), Weighted(a.P75, b.P75));
    }

    private static string[] Union(IReadOnlyList<string> first, IReadOnlyList<string> second) =>
        [.. first.Concat(second).Distinct(StringComparer.Ordinal)];
}
