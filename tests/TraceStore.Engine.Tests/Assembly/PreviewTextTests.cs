using System.Text;
using TraceStore.Engine.Traces;
using static TraceStore.Engine.Tests.Assembly.OtlpTrace;

namespace TraceStore.Engine.Tests.Assembly;

/// <summary>Chat-shaped previews (mlflow-tracing.md a.1; MLflow's <c>tracing/utils/truncation.py</c>).</summary>
public sealed class PreviewTextTests
{
    public static TheoryData<string, string, string> Cases => new()
    {
        // Not chat-shaped: the JSON text itself.
        { """{"query": "refund?"}""", PreviewText.UserRole, """{"query": "refund?"}""" },
        { "\"just a string\"", PreviewText.UserRole, "\"just a string\"" },
        { "[1, 2]", PreviewText.UserRole, "[1, 2]" },
        // OpenAI chat request: last user message, skipping later non-user ones.
        { """{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "first"}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "x"}]}""", PreviewText.UserRole, "hi" },
        // No message with the role: the last message.
        { """{"messages": [{"role": "system", "content": "only system"}]}""", PreviewText.UserRole, "only system" },
        // Chat completion response.
        { """{"id": "c1", "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}}]}""", PreviewText.AssistantRole, "hello" },
        // Responses API request with content parts; input_text is not a text part for MLflow, so the raw JSON stays.
        { """{"input": [{"role": "user", "content": [{"type": "input_text", "text": "x"}]}]}""", PreviewText.UserRole, """{"input": [{"role": "user", "content": [{"type": "input_text", "text": "x"}]}]}""" },
        { """{"input": [{"role": "user", "content": ["plain part", {"type": "text", "text": "later"}]}]}""", PreviewText.UserRole, "plain part" },
        // Responses API response: output_text part.
        { """{"output": [{"type": "reasoning", "summary": []}, {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "done"}]}]}""", PreviewText.AssistantRole, "done" },
        // ResponsesAgent request wraps the Responses request.
        { """{"request": {"input": [{"role": "user", "content": "wrapped"}]}}""", PreviewText.UserRole, "wrapped" },
        // "messages" present but holding no message: MLflow stops there and previews the JSON.
        { """{"messages": [{"text": "no role"}], "choices": [{"message": {"role": "assistant", "content": "ignored"}}]}""", PreviewText.AssistantRole, """{"messages": [{"text": "no role"}], "choices": [{"message": {"role": "assistant", "content": "ignored"}}]}""" },
        // Empty message text falls back to the JSON.
        { """{"messages": [{"role": "user", "content": ""}]}""", PreviewText.UserRole, """{"messages": [{"role": "user", "content": ""}]}""" },
        // Not JSON at all (a plain string stored as is would not reach here, but the preview must not throw).
        { "{not json", PreviewText.UserRole, "{not json" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Chat_shaped_payloads_preview_the_message_text(string json, string role, string expected) =>
        Assert.Equal(expected, PreviewText.FromJson(Encoding.UTF8.GetBytes(json), role));

    [Fact]
    public void Extracted_message_text_is_truncated_too()
    {
        var content = new string('m', 1500);
        var preview = PreviewText.FromJson(Encoding.UTF8.GetBytes($$"""{"messages": [{"role": "user", "content": "{{content}}"}]}"""), PreviewText.UserRole);

        Assert.Equal(content[..997] + "...", preview);
    }

    [Fact]
    public void Root_span_with_chat_inputs_and_outputs_previews_the_messages()
    {
        var summary = TraceSummaryBuilder.Build(Buffer(Request("svc", Root(attributes:
        [
            ("mlflow.spanInputs", """{"messages": [{"role": "user", "content": "Where is my order?"}]}"""),
            ("mlflow.spanOutputs", """{"choices": [{"message": {"role": "assistant", "content": "It ships today."}}]}"""),
        ]))));

        Assert.Equal("Where is my order?", summary.RequestPreview);
        Assert.Equal("It ships today.", summary.ResponsePreview);
    }

    [Theory]
    [InlineData("abc", 5, "abc")]
    [InlineData("abcdef", 5, "ab...")]
    [InlineData("\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600", 5, "\U0001F600\U0001F600...")]
    public void Truncate_counts_code_points(string text, int max, string expected) => Assert.Equal(expected, PreviewText.Truncate(text, max));

    [Theory]
    [InlineData("abcdef", 3, "abc")]
    [InlineData("\U0001F600\U0001F600\U0001F600", 2, "\U0001F600\U0001F600")]
    [InlineData("ab", 3, "ab")]
    public void Cut_keeps_a_code_point_prefix(string text, int max, string expected) => Assert.Equal(expected, PreviewText.Cut(text, max));
}
