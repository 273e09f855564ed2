using TraceStore.Protocol.Model;

namespace TraceStore.Protocol.GenAi;

/// <summary>The attribute convention a GenAI fact was read from.</summary>
public enum GenAiConvention
{
    None,

    /// <summary>MLflow's own <c>mlflow.*</c> keys.</summary>
    Mlflow,
    OpenInference,

    /// <summary>OpenTelemetry GenAI semantic conventions (<c>gen_ai.*</c>).</summary>
    GenAiSemconv,

    /// <summary>Traceloop / OpenLLMetry.</summary>
    Traceloop,
}

/// <summary>Token counts of one span (or summed over a trace). Cache counts are null when no source reported them.</summary>
public readonly record struct TokenUsage(long InputTokens, long OutputTokens, long TotalTokens, long? CacheReadInputTokens = null, long? CacheCreationInputTokens = null)
{
    public TokenUsage Add(TokenUsage other) => new(
        InputTokens + other.InputTokens,
        OutputTokens + other.OutputTokens,
        TotalTokens + other.TotalTokens,
        Sum(CacheReadInputTokens, other.CacheReadInputTokens),
        Sum(CacheCreationInputTokens, other.CacheCreationInputTokens));

    private static long? Sum(long? a, long? b) => a is null && b is null ? null : (a ?? 0) + (b ?? 0);
}

/// <summary>
/// MLflow's view of one span (mlflow-tracing.md c.2/c.3): span type, where its inputs and outputs are, token
/// usage, model and provider, session and user. Values stay in the batch: the <c>*Attribute</c> members are
/// indexes into <see cref="SpanBatch.KeyValues"/> (-1 when absent), so describing a span allocates nothing.
/// </summary>
public readonly record struct GenAiSpan(
    string SpanType,
    GenAiConvention SpanTypeSource,
    int InputsAttribute,
    int OutputsAttribute,
    TokenUsage? Usage,
    GenAiConvention UsageSource,
    int ModelAttribute,
    int ProviderAttribute,
    int SessionAttribute,
    int UserAttribute)
{
    /// <summary>The attribute's value as text: strings as they are (a JSON-encoded string is unwrapped), other values
    /// as MLflow would JSON-encode them. Null when the attribute is absent.</summary>
    public static string? Text(SpanBatch batch, int attribute)
    {
        if (attribute < 0)
        {
            return null;
        }

        var value = batch.KeyValues[attribute].Value;
        return value.Kind == AnyValueKind.String
            ? GenAiValues.UnwrapJsonString(batch, value, out var text) ? text : batch.GetString(value.Bytes)
            : MlflowAttributeJson.Encode(batch, value);
    }
}
