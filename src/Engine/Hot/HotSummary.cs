using TraceStore.Engine.Assembly;
using TraceStore.Engine.Segments;
using TraceStore.Engine.Traces;

namespace TraceStore.Engine.Hot;

/// <summary>
/// Summaries of traces that still have unsealed spans (docs/reads.md, "Summaries of unsealed traces").
/// <list type="bullet">
/// <item><see cref="Of"/>: a trace only in memory. <see cref="TraceSummaryBuilder"/>'s summary, except the state:
/// IN_PROGRESS until the root span has arrived <em>and ended</em>, then the root's.</item>
/// <item><see cref="Combine"/>: a trace with sealed parts and unsealed spans (late spans, the next part of a large
/// trace). The summary the sealer will write when it seals those spans (<see cref="TraceSummaryMerger"/>, from the
/// sealed parts' light per-span facts: ids, parents, token usage, sizes), so it is exact on every field, token usage
/// and size percentiles included; only the state differs, by the same rule as <see cref="Of"/>.</item>
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
    /// The summary of a trace whose sealed parts are <paramref name="sealedParts"/> and whose unsealed spans are in
    /// <paramref name="hot"/>. Hot spans the sealed parts hold already (client retries across a seal, or a part seen
    /// pending and just committed) count once, as the sealed copy: the first stored.
    /// </summary>
    internal static TraceSummary Combine(SealedTraceParts sealedParts, TraceBuffer hot)
    {
        ArgumentNullException.ThrowIfNull(sealedParts);
        ArgumentNullException.ThrowIfNull(hot);
        var fresh = sealedParts.WithoutStored(hot, hot.LastSpanTicks);
        if (fresh.Spans.Count == 0)
        {
            return sealedParts.Summary;
        }

        var merged = TraceSummaryMerger.Merge(sealedParts, fresh);

        // The root decides the state once it arrived; arriving in the hot spans, it must have ended too.
        var rootIsHot = sealedParts.Summary.State == TraceState.InProgress && fresh.RootIndex >= 0;
        return rootIsHot && !fresh.RootEnded ? merged with { State = TraceState.InProgress } : merged;
    }
}
