namespace TraceStore.Protocol.GenAi;

/// <summary>
/// The attribute keys the GenAI mapping reads (mlflow-tracing.md, sections b.1 and c.3; MLflow's
/// <c>mlflow/tracing/otel/translation/*</c>), each with a slot number for the one-pass scan of a span.
/// </summary>
internal static class GenAiKeys
{
    public enum Slot
    {
        MlflowSpanType,
        MlflowInputs,
        MlflowOutputs,
        MlflowTokenUsage,
        MlflowModel,
        MlflowProvider,
        OpenInferenceKind,
        OpenInferenceInput,
        OpenInferenceOutput,
        OpenInferencePromptTokens,
        OpenInferenceCompletionTokens,
        OpenInferenceTotalTokens,
        OpenInferenceCacheRead,
        OpenInferenceCacheWrite,
        OpenInferenceResponseModel,
        OpenInferenceModel,
        OpenInferenceRequestModel,
        OpenInferenceEmbeddingModel,
        OpenInferenceProvider,
        GenAiOperation,
        GenAiInputMessages,
        GenAiToolArguments,
        GenAiOutputMessages,
        GenAiToolResult,
        GenAiInputTokens,
        GenAiOutputTokens,
        GenAiCacheRead,
        GenAiCacheCreation,
        GenAiResponseModel,
        GenAiRequestModel,
        GenAiProvider,
        TraceloopKind,
        TraceloopInput,
        TraceloopOutput,
        TraceloopPromptTokens,
        TraceloopCompletionTokens,
        TraceloopTotalTokens,
        TraceloopSystem,
        SessionId,
        UserId,
        Count,
    }

    /// <summary>Key → slot. Looked up by UTF-8 bytes through <see cref="Lookup"/>.</summary>
    private static readonly (byte[] Key, Slot Slot)[] Table =
    [
        ("mlflow.spanType"u8.ToArray(), Slot.MlflowSpanType),
        ("mlflow.spanInputs"u8.ToArray(), Slot.MlflowInputs),
        ("mlflow.spanOutputs"u8.ToArray(), Slot.MlflowOutputs),
        ("mlflow.chat.tokenUsage"u8.ToArray(), Slot.MlflowTokenUsage),
        ("mlflow.llm.model"u8.ToArray(), Slot.MlflowModel),
        ("mlflow.llm.provider"u8.ToArray(), Slot.MlflowProvider),
        ("openinference.span.kind"u8.ToArray(), Slot.OpenInferenceKind),
        ("input.value"u8.ToArray(), Slot.OpenInferenceInput),
        ("output.value"u8.ToArray(), Slot.OpenInferenceOutput),
        ("llm.token_count.prompt"u8.ToArray(), Slot.OpenInferencePromptTokens),
        ("llm.token_count.completion"u8.ToArray(), Slot.OpenInferenceCompletionTokens),
        ("llm.token_count.total"u8.ToArray(), Slot.OpenInferenceTotalTokens),
        ("llm.token_count.prompt_details.cache_read"u8.ToArray(), Slot.OpenInferenceCacheRead),
        ("llm.token_count.prompt_details.cache_write"u8.ToArray(), Slot.OpenInferenceCacheWrite),
        ("llm.response.model_name"u8.ToArray(), Slot.OpenInferenceResponseModel),
        ("llm.model_name"u8.ToArray(), Slot.OpenInferenceModel),
        ("llm.request.model_name"u8.ToArray(), Slot.OpenInferenceRequestModel),
        ("embedding.model_name"u8.ToArray(), Slot.OpenInferenceEmbeddingModel),
        ("llm.provider"u8.ToArray(), Slot.OpenInferenceProvider),
        ("gen_ai.operation.name"u8.ToArray(), Slot.GenAiOperation),
        ("gen_ai.input.messages"u8.ToArray(), Slot.GenAiInputMessages),
        ("gen_ai.tool.call.arguments"u8.ToArray(), Slot.GenAiToolArguments),
        ("gen_ai.output.messages"u8.ToArray(), Slot.GenAiOutputMessages),
        ("gen_ai.tool.call.result"u8.ToArray(), Slot.GenAiToolResult),
        ("gen_ai.usage.input_tokens"u8.ToArray(), Slot.GenAiInputTokens),
        ("gen_ai.usage.output_tokens"u8.ToArray(), Slot.GenAiOutputTokens),
        ("gen_ai.usage.cache_read.input_tokens"u8.ToArray(), Slot.GenAiCacheRead),
        ("gen_ai.usage.cache_creation.input_tokens"u8.ToArray(), Slot.GenAiCacheCreation),
        ("gen_ai.response.model"u8.ToArray(), Slot.GenAiResponseModel),
        ("gen_ai.request.model"u8.ToArray(), Slot.GenAiRequestModel),
        ("gen_ai.provider.name"u8.ToArray(), Slot.GenAiProvider),
        ("traceloop.span.kind"u8.ToArray(), Slot.TraceloopKind),
        ("traceloop.entity.input"u8.ToArray(), Slot.TraceloopInput),
        ("traceloop.entity.output"u8.ToArray(), Slot.TraceloopOutput),
        ("gen_ai.usage.prompt_tokens"u8.ToArray(), Slot.TraceloopPromptTokens),
        ("gen_ai.usage.completion_tokens"u8.ToArray(), Slot.TraceloopCompletionTokens),
        ("llm.usage.total_tokens"u8.ToArray(), Slot.TraceloopTotalTokens),
        ("gen_ai.system"u8.ToArray(), Slot.TraceloopSystem),
        ("session.id"u8.ToArray(), Slot.SessionId),
        ("user.id"u8.ToArray(), Slot.UserId),
    ];

    /// <summary>Keys grouped by length, so a lookup compares against a handful of candidates at most.</summary>
    private static readonly (byte[] Key, Slot Slot)[][] ByLength = BuildIndex();

    public static bool Lookup(ReadOnlySpan<byte> key, out Slot slot)
    {
        if ((uint)key.Length < (uint)ByLength.Length)
        {
            foreach (var (candidate, candidateSlot) in ByLength[key.Length])
            {
                if (key.SequenceEqual(candidate))
                {
                    slot = candidateSlot;
                    return true;
                }
            }
        }

        slot = Slot.Count;
        return false;
    }

    private static (byte[] Key, Slot Slot)[][] BuildIndex()
    {
        var maxLength = Table.Max(e => e.Key.Length);
        var index = new (byte[], Slot)[maxLength + 1][];
        for (var length = 0; length <= maxLength; length++)
        {
            index[length] = Table.Where(e => e.Key.Length == length).ToArray();
        }

        return index;
    }
}
