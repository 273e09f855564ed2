using System.Text;
using TraceStore.Engine.Assembly;
using TraceStore.Protocol.GenAi;
using TraceStore.Protocol.Model;

namespace TraceStore.Engine.Traces;

/// <summary>
/// Derives a <see cref="TraceSummary"/> from every span a <see cref="TraceBuffer"/> holds, the way MLflow's
/// <c>SqlAlchemyStore.log_spans</c> builds TraceInfo (mlflow-tracing.md c.3). MLflow folds batch after batch into the
/// stored row (min start, max end, status and previews only while unset, session/user only if absent); since the
/// buffer keeps every span once, in arrival order, recomputing over all of them gives the same result.
/// <para>The root is <see cref="TraceBuffer.RootIndex"/>: the first span without a parent to arrive. MLflow sets the
/// state only while it is IN_PROGRESS and the previews only while they are null, so with several roots the first
/// root received decides, and later roots change nothing.</para>
/// One pass over the spans plus one over their sizes; allocates the result, the distinct-value lists and the sizes
/// array, nothing per span.
/// </summary>
public static class TraceSummaryBuilder
{
    public static TraceSummary Build(TraceBuffer buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        var spans = buffer.Spans.AsSpan();
        if (spans.IsEmpty)
        {
            throw new ArgumentException("A trace summary needs at least one span.", nameof(buffer));
        }

        var minStart = ulong.MaxValue;
        var maxEnd = 0UL;
        var errors = 0;
        ArenaSlice session = default, user = default;
        var services = new DistinctSlices();
        var models = new DistinctSlices();
        var spanTypes = new DistinctSlices();
        foreach (ref readonly var span in spans)
        {
            minStart = Math.Min(minStart, span.StartTimeUnixNano);
            maxEnd = span.HasEnded ? Math.Max(maxEnd, span.EndTimeUnixNano) : maxEnd;
            errors += span.StatusCode == StatusCode.Error ? 1 : 0;
            session = session.IsEmpty ? span.SessionId : session;
            user = user.IsEmpty ? span.UserId : user;
            services.Add(buffer, span.ServiceName);
            models.Add(buffer, span.Model);
            spanTypes.Add(buffer, span.SpanType);
        }

        // MLflow floors start and end to ms separately, then subtracts.
        var requestTime = MlflowTime.NanosToMillis(minStart);
        long? duration = maxEnd == 0 ? null : MlflowTime.NanosToMillis(maxEnd) - requestTime;
        var usage = SumTokenUsage(buffer);
        var sessionId = Text(buffer, session);
        var userId = Text(buffer, user);
        var sizeStats = SpanSize.Stats(buffer);
        var hasRoot = buffer.RootIndex >= 0;
        ref readonly var root = ref hasRoot ? ref spans[buffer.RootIndex] : ref spans[0];
        var traceName = hasRoot ? buffer.GetString(root.Name) : null;
        return new TraceSummary
        {
            Key = buffer.Key,
            RequestTimeMs = requestTime,
            ExecutionDurationMs = duration,
            State = hasRoot ? StateOf(root.StatusCode) : TraceState.InProgress,
            RequestPreview = hasRoot ? PreviewText.FromJson(buffer.Bytes(root.Inputs), PreviewText.UserRole) : null,
            ResponsePreview = hasRoot ? PreviewText.FromJson(buffer.Bytes(root.Outputs), PreviewText.AssistantRole) : null,
            TokenUsage = usage,
            SessionId = sessionId,
            UserId = userId,
            TraceName = traceName,
            SpanCount = spans.Length,
            ErrorSpanCount = errors,
            SizeStats = sizeStats,
            ServiceNames = services.ToStrings(buffer),
            Models = models.ToStrings(buffer),
            SpanTypes = spanTypes.ToStrings(buffer),
            LowestWalSequence = buffer.LowestWalSequence,
            Metadata = TraceInfoMaps.Metadata(usage, sessionId, userId, sizeStats),
            Tags = TraceInfoMaps.Tags(traceName),
        };
    }

    /// <summary>c.3: the root's ERROR gives ERROR; OK and UNSET (what plain OpenTelemetry SDKs end spans with) give OK.</summary>
    public static TraceState StateOf(StatusCode rootStatus) => rootStatus == StatusCode.Error ? TraceState.Error : TraceState.Ok;

    /// <summary>
    /// Token usage with the nested-span rule of <see cref="TraceTokenUsage"/> (MLflow's <c>aggregate_usage_from_spans</c>):
    /// a span's usage counts only when no ancestor carries usage, so an SDK span under an instrumentation span that
    /// already reports the same call is not counted twice. Ancestry is resolved among the spans received; a span whose
    /// parent has not arrived counts as top-level (so a late parent with usage can lower the sum, as in MLflow when it
    /// recomputes). Null when no span reports usage.
    /// </summary>
    public static TokenUsage? SumTokenUsage(TraceBuffer buffer)
    {
        var spans = buffer.Spans.AsSpan();
        TokenUsage? total = null;
        foreach (ref readonly var span in spans)
        {
            if (span.Usage is { } own && !AncestorHasUsage(buffer, span.ParentSpanId))
            {
                total = total is { } sum ? sum.Add(own) : own;
            }
        }

        return total;
    }

    private static bool AncestorHasUsage(TraceBuffer buffer, SpanId parent)
    {
        var spans = buffer.Spans.AsSpan();

        // Bounded walk: a malformed trace may contain a parent cycle.
        for (var hops = 0; !parent.IsEmpty && hops < spans.Length; hops++)
        {
            if (!buffer.TryGetSpanIndex(parent, out var index))
            {
                return false;
            }

            if (spans[index].Usage is not null)
            {
                return true;
            }

            parent = spans[index].ParentSpanId;
        }

        return false;
    }

    private static string? Text(TraceBuffer buffer, ArenaSlice slice) => slice.IsEmpty ? null : buffer.GetString(slice);

    /// <summary>Distinct non-empty values, compared as UTF-8 bytes in the arena, in first-seen order. Linear lookup:
    /// a trace has a handful of services, models and span types.</summary>
    private sealed class DistinctSlices
    {
        private readonly List<ArenaSlice> _values = [];

        public void Add(TraceBuffer buffer, ArenaSlice candidate)
        {
            if (candidate.IsEmpty)
            {
                return;
            }

            var bytes = buffer.Bytes(candidate);
            foreach (var value in _values)
            {
                if (buffer.Bytes(value).SequenceEqual(bytes))
                {
                    return;
                }
            }

            _values.Add(candidate);
        }

        public string[] ToStrings(TraceBuffer buffer) => _values.ConvertAll(value => Encoding.UTF8.GetString(buffer.Bytes(value))).ToArray();
    }
}
