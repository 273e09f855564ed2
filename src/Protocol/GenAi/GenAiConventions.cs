using TraceStore.Protocol.Model;
using Slot = TraceStore.Protocol.GenAi.GenAiKeys.Slot;

namespace TraceStore.Protocol.GenAi;

/// <summary>
/// Maps a span to MLflow's GenAI model. For each fact, the first convention that has it wins, in MLflow's
/// order: its own <c>mlflow.*</c> keys, then OpenInference, then OTel <c>gen_ai.*</c>, then Traceloop. A span type of
/// <c>UNKNOWN</c> from <c>mlflow.spanType</c> is overridden by a convention that knows better, as MLflow does.
/// One pass over the span's attributes; allocates nothing unless a span type is a JSON-encoded custom string.
/// </summary>
public static class GenAiConventions
{
    public const string UnknownSpanType = "UNKNOWN";

    /// <summary>MLflow's predefined span types (entities/span.py); custom strings are allowed too.</summary>
    private static readonly string[] KnownSpanTypes =
        ["LLM", "CHAIN", "AGENT", "TOOL", "CHAT_MODEL", "RETRIEVER", "PARSER", "EMBEDDING", "RERANKER", "MEMORY", "UNKNOWN", "WORKFLOW", "TASK", "GUARDRAIL", "EVALUATOR"];

    private static readonly (byte[] Kind, string Type)[] OpenInferenceKinds =
    [
        ("TOOL"u8.ToArray(), "TOOL"), ("CHAIN"u8.ToArray(), "CHAIN"), ("LLM"u8.ToArray(), "LLM"), ("RETRIEVER"u8.ToArray(), "RETRIEVER"),
        ("EMBEDDING"u8.ToArray(), "EMBEDDING"), ("AGENT"u8.ToArray(), "AGENT"), ("RERANKER"u8.ToArray(), "RERANKER"),
        ("UNKNOWN"u8.ToArray(), "UNKNOWN"), ("GUARDRAIL"u8.ToArray(), "GUARDRAIL"), ("EVALUATOR"u8.ToArray(), "EVALUATOR"),
    ];

    private static readonly (byte[] Kind, string Type)[] GenAiOperations =
    [
        ("chat"u8.ToArray(), "CHAT_MODEL"), ("create_agent"u8.ToArray(), "AGENT"), ("embeddings"u8.ToArray(), "EMBEDDING"),
        ("execute_tool"u8.ToArray(), "TOOL"), ("generate_content"u8.ToArray(), "LLM"), ("invoke_agent"u8.ToArray(), "AGENT"),
        ("text_completion"u8.ToArray(), "LLM"), ("response"u8.ToArray(), "LLM"),
    ];

    private static readonly (byte[] Kind, string Type)[] TraceloopKinds =
    [
        ("workflow"u8.ToArray(), "WORKFLOW"), ("task"u8.ToArray(), "TASK"), ("agent"u8.ToArray(), "AGENT"),
        ("tool"u8.ToArray(), "TOOL"), ("unknown"u8.ToArray(), "UNKNOWN"),
    ];

    // Per fact, the slots to try in MLflow's order.
    private static readonly Slot[] InputsOrder = [Slot.MlflowInputs, Slot.OpenInferenceInput, Slot.GenAiInputMessages, Slot.GenAiToolArguments, Slot.TraceloopInput];
    private static readonly Slot[] OutputsOrder = [Slot.MlflowOutputs, Slot.OpenInferenceOutput, Slot.GenAiOutputMessages, Slot.GenAiToolResult, Slot.TraceloopOutput];
    private static readonly Slot[] ModelOrder =
    [
        Slot.MlflowModel, Slot.OpenInferenceResponseModel, Slot.OpenInferenceModel, Slot.OpenInferenceRequestModel,
        Slot.OpenInferenceEmbeddingModel, Slot.GenAiResponseModel, Slot.GenAiRequestModel,
    ];
    private static readonly Slot[] ProviderOrder = [Slot.MlflowProvider, Slot.OpenInferenceProvider, Slot.GenAiProvider, Slot.TraceloopSystem];

    public static GenAiSpan Describe(SpanBatch batch, in SpanRecord span)
    {
        Span<int> slots = stackalloc int[(int)Slot.Count];
        slots.Fill(-1);
        var attributes = span.Attributes;
        var keyValues = batch.KeyValues.AsSpan();
        for (var i = attributes.Start; i < attributes.End; i++)
        {
            if (GenAiKeys.Lookup(batch.Bytes(keyValues[i].Key), out var slot))
            {
                slots[(int)slot] = i;
            }
        }

        var (spanType, typeSource) = SpanType(batch, slots);
        var (usage, usageSource) = Usage(batch, slots);
        return new GenAiSpan(
            spanType,
            typeSource,
            First(slots, InputsOrder),
            First(slots, OutputsOrder),
            usage,
            usageSource,
            First(slots, ModelOrder),
            First(slots, ProviderOrder),
            slots[(int)Slot.SessionId],
            slots[(int)Slot.UserId]);
    }

    private static (string, GenAiConvention) SpanType(SpanBatch batch, ReadOnlySpan<int> slots)
    {
        string? mlflowType = null;
        Span<byte> scratch = stackalloc byte[32];
        if (slots[(int)Slot.MlflowSpanType] is var mlflow and >= 0)
        {
            var value = batch.KeyValues[mlflow].Value;
            var token = GenAiValues.Token(batch, value, scratch);
            mlflowType = Known(token) ?? (GenAiValues.UnwrapJsonString(batch, value, out var text) ? text : batch.GetString(value.Bytes));
            if (mlflowType != UnknownSpanType)
            {
                return (mlflowType, GenAiConvention.Mlflow);
            }
        }

        if (Map(batch, slots[(int)Slot.OpenInferenceKind], OpenInferenceKinds, scratch) is { } openInference)
        {
            return (openInference, GenAiConvention.OpenInference);
        }

        if (Map(batch, slots[(int)Slot.GenAiOperation], GenAiOperations, scratch) is { } genAi)
        {
            return (genAi, GenAiConvention.GenAiSemconv);
        }

        if (Map(batch, slots[(int)Slot.TraceloopKind], TraceloopKinds, scratch) is { } traceloop)
        {
            return (traceloop, GenAiConvention.Traceloop);
        }

        return mlflowType is null ? (UnknownSpanType, GenAiConvention.None) : (mlflowType, GenAiConvention.Mlflow);
    }

    private static (TokenUsage?, GenAiConvention) Usage(SpanBatch batch, ReadOnlySpan<int> slots)
    {
        if (slots[(int)Slot.MlflowTokenUsage] is var mlflow and >= 0 && GenAiValues.ParseMlflowUsage(batch, batch.KeyValues[mlflow].Value) is { } fromMlflow)
        {
            return (fromMlflow, GenAiConvention.Mlflow);
        }

        if (Counts(batch, slots, Slot.OpenInferencePromptTokens, Slot.OpenInferenceCompletionTokens, Slot.OpenInferenceTotalTokens, Slot.OpenInferenceCacheRead, Slot.OpenInferenceCacheWrite) is { } openInference)
        {
            return (openInference, GenAiConvention.OpenInference);
        }

        if (Counts(batch, slots, Slot.GenAiInputTokens, Slot.GenAiOutputTokens, Slot.Count, Slot.GenAiCacheRead, Slot.GenAiCacheCreation) is { } genAi)
        {
            return (genAi, GenAiConvention.GenAiSemconv);
        }

        if (Counts(batch, slots, Slot.TraceloopPromptTokens, Slot.TraceloopCompletionTokens, Slot.TraceloopTotalTokens, Slot.Count, Slot.Count) is { } traceloop)
        {
            return (traceloop, GenAiConvention.Traceloop);
        }

        return (null, GenAiConvention.None);
    }

    private static TokenUsage? Counts(SpanBatch batch, ReadOnlySpan<int> slots, Slot input, Slot output, Slot total, Slot cacheRead, Slot cacheCreation) =>
        GenAiValues.Usage(Integer(batch, slots, input), Integer(batch, slots, output), Integer(batch, slots, total), Integer(batch, slots, cacheRead), Integer(batch, slots, cacheCreation));

    private static long? Integer(SpanBatch batch, ReadOnlySpan<int> slots, Slot slot) =>
        slot != Slot.Count && slots[(int)slot] is var index and >= 0 && GenAiValues.TryInteger(batch, batch.KeyValues[index].Value, out var n) ? n : null;

    private static int First(ReadOnlySpan<int> slots, Slot[] order)
    {
        foreach (var slot in order)
        {
            if (slots[(int)slot] >= 0)
            {
                return slots[(int)slot];
            }
        }

        return -1;
    }

    private static string? Map(SpanBatch batch, int attribute, (byte[] Kind, string Type)[] table, Span<byte> scratch)
    {
        if (attribute < 0)
        {
            return null;
        }

        var token = GenAiValues.Token(batch, batch.KeyValues[attribute].Value, scratch);
        foreach (var (kind, type) in table)
        {
            if (token.SequenceEqual(kind))
            {
                return type;
            }
        }

        return null;
    }

    private static string? Known(ReadOnlySpan<byte> token)
    {
        foreach (var type in KnownSpanTypes)
        {
            if (System.Text.Ascii.Equals(token, type))
            {
                return type;
            }
        }

        return null;
    }
}
