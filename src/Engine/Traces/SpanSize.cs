using TraceStore.Engine.Assembly;

namespace TraceStore.Engine.Traces;

/// <summary>
/// Span sizes for <c>mlflow.trace.sizeStats</c>. MLflow's client measures a span as the UTF-8 length of
/// <c>json.dumps(span.to_dict())</c> and adds the TraceInfo JSON to the total (<c>add_size_stats_to_trace_metadata</c>).
/// We measure the span's stored content instead, so that the number is cheap and does not depend on a JSON layout:
/// the UTF-8 bytes of its name, status message, every attribute key and stored (JSON) value, and every event name and
/// event attributes JSON. Ids, times, enums and the facts derived from attributes (type, model, inputs...) are not
/// counted. So our sizes are smaller than MLflow's by roughly the JSON syntax and the id/time fields of each span,
/// and the total is the sum of span sizes (no TraceInfo part). Percentiles are MLflow's: linear interpolation over
/// the sorted sizes, truncated to an integer (<c>_calculate_percentile</c>).
/// </summary>
public static class SpanSize
{
    /// <summary>Stored content bytes of <paramref name="span"/> in <paramref name="buffer"/> (see the type's summary).</summary>
    public static long Of(TraceBuffer buffer, in StoredSpan span)
    {
        long size = span.Name.Length + span.StatusMessage.Length;
        foreach (ref readonly var attribute in buffer.Attributes.Slice(span.Attributes))
        {
            size += attribute.Key.Length + attribute.Value.Length;
        }

        foreach (ref readonly var spanEvent in buffer.Events.Slice(span.Events))
        {
            size += spanEvent.Name.Length + spanEvent.Attributes.Length;
        }

        return size;
    }

    /// <summary>Size statistics over every span of <paramref name="buffer"/> (at least one).</summary>
    public static SpanSizeStats Stats(TraceBuffer buffer)
    {
        var spans = buffer.Spans.AsSpan();
        var sizes = new long[spans.Length];
        for (var i = 0; i < spans.Length; i++)
        {
            sizes[i] = Of(buffer, spans[i]);
        }

        return StatsOf(sizes);
    }

    /// <summary>Size statistics over <paramref name="sizes"/> (at least one; sorted in place).</summary>
    public static SpanSizeStats StatsOf(Span<long> sizes)
    {
        ArgumentOutOfRangeException.ThrowIfZero(sizes.Length, nameof(sizes));
        sizes.Sort();
        long total = 0;
        foreach (var size in sizes)
        {
            total += size;
        }

        return new SpanSizeStats(total, sizes.Length, sizes[^1], Percentile(sizes, 0.25), Percentile(sizes, 0.50), Percentile(sizes, 0.75));
    }

    /// <summary>MLflow's <c>int(_calculate_percentile(sorted, p))</c>: index p·(n−1), linear interpolation between
    /// the two neighbours, the last value when the upper neighbour is past the end; truncated toward zero.</summary>
    public static long Percentile(ReadOnlySpan<long> sorted, double percentile)
    {
        if (sorted.IsEmpty)
        {
            return 0;
        }

        var (lower, upper, weight) = Neighbours(sorted.Length, percentile);
        return upper >= sorted.Length ? sorted[^1] : (long)((sorted[lower] * (1 - weight)) + (sorted[upper] * weight));
    }

    /// <summary><see cref="Percentile(ReadOnlySpan{long}, double)"/> over <paramref name="count"/> sizes that are not
    /// in one array: <paramref name="ranked"/> gives the size of a rank (0: smallest).</summary>
    public static long Percentile(int count, Func<int, long> ranked, double percentile)
    {
        if (count == 0)
        {
            return 0;
        }

        var (lower, upper, weight) = Neighbours(count, percentile);
        return upper >= count ? ranked(count - 1) : (long)((ranked(lower) * (1 - weight)) + (ranked(upper) * weight));
    }

    private static (int Lower, int Upper, double Weight) Neighbours(int count, double percentile)
    {
        var index = percentile * (count - 1);
        var lower = (int)index;
        return (lower, lower + 1, index - lower);
    }
}
