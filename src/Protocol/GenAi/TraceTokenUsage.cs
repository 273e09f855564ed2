using TraceStore.Protocol.Model;

namespace TraceStore.Protocol.GenAi;

/// <summary>
/// Token usage per trace with MLflow's nested-span rule (<c>aggregate_usage_from_spans</c>): a span's usage counts
/// only when none of its ancestors carries usage, so an SDK span nested under an instrumentation span that already
/// reports the same call is not counted twice. Ancestry is resolved within the given spans; a span whose parent is
/// not among them is treated as top-level.
/// </summary>
public static class TraceTokenUsage
{
    public static Dictionary<TraceId, TokenUsage> Aggregate(SpanBatch batch)
    {
        var spans = batch.Spans.AsSpan();
        var usage = new Dictionary<(TraceId, SpanId), TokenUsage?>(spans.Length);
        var parents = new Dictionary<(TraceId, SpanId), SpanId>(spans.Length);
        foreach (ref readonly var span in spans)
        {
            usage[(span.TraceId, span.SpanId)] = GenAiConventions.Describe(batch, span).Usage;
            parents[(span.TraceId, span.SpanId)] = span.ParentSpanId;
        }

        var totals = new Dictionary<TraceId, TokenUsage>();
        foreach (ref readonly var span in spans)
        {
            if (usage[(span.TraceId, span.SpanId)] is not { } own || AncestorHasUsage(span.TraceId, span.ParentSpanId, usage, parents))
            {
                continue;
            }

            totals[span.TraceId] = totals.TryGetValue(span.TraceId, out var sum) ? sum.Add(own) : own;
        }

        return totals;
    }

    private static bool AncestorHasUsage(TraceId trace, SpanId parent, Dictionary<(TraceId, SpanId), TokenUsage?> usage, Dictionary<(TraceId, SpanId), SpanId> parents)
    {
        // Bounded walk: a malformed trace may contain a parent cycle.
        for (var hops = 0; !parent.IsEmpty && hops < parents.Count; hops++)
        {
            if (!usage.TryGetValue((trace, parent), out var parentUsage))
            {
                return false;
            }

            if (parentUsage is not null)
            {
                return true;
            }

            parent = parents[(trace, parent)];
        }

        return false;
    }
}
