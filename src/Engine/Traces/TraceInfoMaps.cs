using System.Globalization;
using System.Text;
using TraceStore.Protocol.GenAi;

namespace TraceStore.Engine.Traces;

/// <summary>
/// The trace metadata and tags MLflow keeps for a trace logged over OTLP (mlflow-tracing.md b.2, b.3, c.3 steps 6–7).
/// JSON values are written as Python's <c>json.dumps</c> writes them (separators <c>", "</c> and <c>": "</c>, keys in
/// MLflow's insertion order), so they compare equal as text with what MLflow stores.
/// </summary>
public static class TraceInfoMaps
{
    public static SortedDictionary<string, string> Metadata(TokenUsage? usage, string? sessionId, string? userId, SpanSizeStats sizeStats)
    {
        var metadata = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            [TraceInfoKeys.SchemaVersion] = TraceInfoKeys.SchemaVersionValue,
            [TraceInfoKeys.SizeStats] = SizeStatsJson(sizeStats),
        };
        if (usage is { } tokens)
        {
            metadata[TraceInfoKeys.TokenUsage] = TokenUsageJson(tokens);
        }

        if (sessionId is not null)
        {
            metadata[TraceInfoKeys.Session] = sessionId;
        }

        if (userId is not null)
        {
            metadata[TraceInfoKeys.User] = userId;
        }

        return metadata;
    }

    public static SortedDictionary<string, string> Tags(string? traceName)
    {
        var tags = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            [TraceInfoKeys.SpansLocationTag] = TraceInfoKeys.SpansLocationTrackingStore,
        };
        if (traceName is not null)
        {
            tags[TraceInfoKeys.TraceNameTag] = traceName;
        }

        return tags;
    }

    /// <summary><c>{"input_tokens": i, "output_tokens": o, "total_tokens": t}</c>, then the cache counts when a span
    /// reported them (<c>TokenUsageKey</c> order).</summary>
    public static string TokenUsageJson(TokenUsage usage)
    {
        var json = new StringBuilder(128);
        json.Append(CultureInfo.InvariantCulture, $"{{\"input_tokens\": {usage.InputTokens}, \"output_tokens\": {usage.OutputTokens}, \"total_tokens\": {usage.TotalTokens}");
        if (usage.CacheReadInputTokens is { } cacheRead)
        {
            json.Append(CultureInfo.InvariantCulture, $", \"cache_read_input_tokens\": {cacheRead}");
        }

        if (usage.CacheCreationInputTokens is { } cacheCreation)
        {
            json.Append(CultureInfo.InvariantCulture, $", \"cache_creation_input_tokens\": {cacheCreation}");
        }

        return json.Append('}').ToString();
    }

    /// <summary><c>{"total_size_bytes": n, "num_spans": n, "max": n, "p25": n, "p50": n, "p75": n}</c>
    /// (<c>TraceSizeStatsKey</c> order).</summary>
    public static string SizeStatsJson(SpanSizeStats stats) => string.Create(
        CultureInfo.InvariantCulture,
        $"{{\"total_size_bytes\": {stats.TotalSizeBytes}, \"num_spans\": {stats.NumSpans}, \"max\": {stats.Max}, \"p25\": {stats.P25}, \"p50\": {stats.P50}, \"p75\": {stats.P75}}}");
}
