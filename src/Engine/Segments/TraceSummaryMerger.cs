using System.Text;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Traces;
using TraceStore.Protocol.GenAi;
using TraceStore.Protocol.Model;

namespace TraceStore.Engine.Segments;

/// <summary>
/// The summary of a trace whose earlier spans are sealed (<see cref="SealedTraceParts"/>) once more spans arrive:
/// the same result <see cref="TraceSummaryBuilder"/> gives over every span in arrival order, computed from the
/// earlier summary and the light per-span facts instead of the earlier spans themselves.
/// <list type="bullet">
/// <item>Request time and end are minimum and maximum of floored milliseconds, so the earlier summary's values
/// combine exactly with the new spans'.</item>
/// <item>State, previews and trace name come from the first root to arrive: the earlier summary's when it has one
/// (not IN_PROGRESS), else the new spans' root. Session and user: the first seen, likewise. The distinct services,
/// models and span types keep first-seen order: the earlier lists, then new values.</item>
/// <item>Token usage applies the nested-span rule over all spans (earlier and new), since a new span can be the
/// ancestor of an earlier one or bridge it to one; size statistics are recomputed over every span's stored size.</item>
/// </list>
/// </summary>
internal static class TraceSummaryMerger
{
    /// <param name="earlier">What is sealed of the trace.</param>
    /// <param name="added">The spans that arrived since, none of them among <paramref name="earlier"/>'s (at least one).</param>
    public static TraceSummary Merge(SealedTraceParts earlier, TraceBuffer added)
    {
        ArgumentNullException.ThrowIfNull(earlier);
        ArgumentNullException.ThrowIfNull(added);
        var spans = added.Spans.AsSpan();
        if (spans.IsEmpty)
        {
            throw new ArgumentException("Merging a summary needs at least one new span.", nameof(added));
        }

        var before = earlier.Summary;
        var minStart = ulong.MaxValue;
        var maxEnd = 0UL;
        var errors = 0;
        ArenaSlice session = default, user = default;
        foreach (ref readonly var span in spans)
        {
            minStart = Math.Min(minStart, span.StartTimeUnixNano);
            maxEnd = span.HasEnded ? Math.Max(maxEnd, span.EndTimeUnixNano) : maxEnd;
            errors += span.StatusCode == StatusCode.Error ? 1 : 0;
            session = session.IsEmpty ? span.SessionId : session;
            user = user.IsEmpty ? span.UserId : user;
        }

        var requestTime = Math.Min(before.RequestTimeMs, MlflowTime.NanosToMillis(minStart));
        long? endMs = before.ExecutionDurationMs is { } duration ? before.RequestTimeMs + duration : null;
        if (maxEnd != 0)
        {
            endMs = Math.Max(endMs ?? long.MinValue, MlflowTime.NanosToMillis(maxEnd));
        }

        var rootArrivesNow = before.State == TraceState.InProgress && added.RootIndex >= 0;
        ref readonly var root = ref spans[rootArrivesNow ? added.RootIndex : 0];
        var usage = SumTokenUsage(earlier, added);
        var sessionId = before.SessionId ?? Text(added, session);
        var userId = before.UserId ?? Text(added, user);
        var sizeStats = SizeStats(earlier, added);
        var traceName = rootArrivesNow ? added.GetString(root.Name) : before.TraceName;
        return new TraceSummary
        {
            Key = added.Key,
            RequestTimeMs = requestTime,
            ExecutionDurationMs = endMs - requestTime,
            State = rootArrivesNow ? TraceSummaryBuilder.StateOf(root.StatusCode) : before.State,
            RequestPreview = rootArrivesNow ? PreviewText.FromJson(added.Bytes(root.Inputs), PreviewText.UserRole) : before.RequestPreview,
            ResponsePreview = rootArrivesNow ? PreviewText.FromJson(added.Bytes(root.Outputs), PreviewText.AssistantRole) : before.ResponsePreview,
            TokenUsage = usage,
            SessionId = sessionId,
            UserId = userId,
            TraceName = traceName,
            SpanCount = earlier.Count + spans.Length,
            ErrorSpanCount = before.ErrorSpanCount + errors,
            SizeStats = sizeStats,
            ServiceNames = Union(before.ServiceNames, added, static s => s.ServiceName),
            Models = Union(before.Models, added, static s => s.Model),
            SpanTypes = Union(before.SpanTypes, added, static s => s.SpanType),
            LowestWalSequence = added.LowestWalSequence,
            Metadata = TraceInfoMaps.Metadata(usage, sessionId, userId, sizeStats),
            Tags = TraceInfoMaps.Tags(traceName),
        };
    }

    private static SpanSizeStats SizeStats(SealedTraceParts earlier, TraceBuffer added)
    {
        var spans = added.Spans.AsSpan();
        var sizes = new long[spans.Length];
        for (var i = 0; i < spans.Length; i++)
        {
            sizes[i] = SpanSize.Of(added, spans[i]);
        }

        return earlier.SizeStatsWith(sizes);
    }

    /// <summary><see cref="TraceSummaryBuilder.SumTokenUsage"/>'s rule over the earlier and the new spans together:
    /// a span's usage counts when no ancestor among them carries usage.</summary>
    private static TokenUsage? SumTokenUsage(SealedTraceParts earlier, TraceBuffer added)
    {
        var spans = added.Spans.AsSpan();
        var hopLimit = earlier.Count + spans.Length;
        TokenUsage? total = null;
        foreach (var (index, own) in earlier.Usage)
        {
            if (!AncestorHasUsage(earlier, added, earlier.ParentOf(index), hopLimit))
            {
                total = total is { } sum ? sum.Add(own) : own;
            }
        }

        foreach (ref readonly var span in spans)
        {
            if (span.Usage is { } own && !AncestorHasUsage(earlier, added, span.ParentSpanId.Value, hopLimit))
            {
                total = total is { } sum ? sum.Add(own) : own;
            }
        }

        return total;
    }

    private static bool AncestorHasUsage(SealedTraceParts earlier, TraceBuffer added, ulong parent, int hopLimit)
    {
        // Bounded walk: a malformed trace may contain a parent cycle.
        for (var hops = 0; parent != 0 && hops < hopLimit; hops++)
        {
            if (earlier.TryGetIndex(parent, out var index))
            {
                if (earlier.Usage.ContainsKey(index))
                {
                    return true;
                }

                parent = earlier.ParentOf(index);
            }
            else if (added.TryGetSpanIndex(new SpanId(parent), out index))
            {
                ref readonly var span = ref added.Spans[index];
                if (span.Usage is not null)
                {
                    return true;
                }

                parent = span.ParentSpanId.Value;
            }
            else
            {
                return false;
            }
        }

        return false;
    }

    private static string[] Union(IReadOnlyList<string> before, TraceBuffer added, Func<StoredSpan, ArenaSlice> field)
    {
        var values = new List<string>(before);
        var known = before.Select(Encoding.UTF8.GetBytes).ToList();
        foreach (ref readonly var span in added.Spans.AsSpan())
        {
            var slice = field(span);
            if (slice.IsEmpty)
            {
                continue;
            }

            var bytes = added.Bytes(slice);
            var seen = false;
            foreach (var value in known)
            {
                seen |= bytes.SequenceEqual(value);
            }

            if (!seen)
            {
                known.Add(bytes.ToArray());
                values.Add(Encoding.UTF8.GetString(bytes));
            }
        }

        return [.. values];
    }

    private static string? Text(TraceBuffer buffer, ArenaSlice slice) => slice.IsEmpty ? null : buffer.GetString(slice);
}
