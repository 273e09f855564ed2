using System.Text;
using System.Text.Json;

namespace TraceStore.Engine.Traces;

/// <summary>
/// MLflow's request/response preview (mlflow-tracing.md a.1; <c>mlflow/tracing/utils/truncation.py</c>,
/// <c>_get_truncated_preview</c>): the root span's inputs or outputs as JSON text, except that when that JSON is an
/// object shaped like an OpenAI chat or Responses payload, the preview is the text of the last message with the
/// wanted role (user for requests, assistant for responses; the last message of any role when none has it). The result
/// is cut to <see cref="MaxCharacters"/> characters: longer text keeps its first 997 and gets <c>"..."</c>.
/// Characters are Python <c>str</c> characters, i.e. Unicode code points, never half a surrogate pair.
/// </summary>
public static class PreviewText
{
    /// <summary>The OSS limit (<c>TRACE_REQUEST_RESPONSE_PREVIEW_MAX_LENGTH_OSS</c>); Databricks uses 10000.</summary>
    public const int MaxCharacters = 1000;

    private const string Ellipsis = "...";

    public const string UserRole = "user";
    public const string AssistantRole = "assistant";

    /// <summary>The preview of <paramref name="json"/> (UTF-8 JSON text, as MLflow stores span inputs/outputs);
    /// null when there is none (empty input).</summary>
    public static string? FromJson(ReadOnlySpan<byte> json, string role)
    {
        if (json.IsEmpty)
        {
            return null;
        }

        var text = Encoding.UTF8.GetString(json);
        var content = ChatMessageText(json, role);
        return Truncate(string.IsNullOrEmpty(content) ? text : content, MaxCharacters);
    }

    /// <summary>Python's <c>s if len(s) &lt;= n else s[:n - 3] + "..."</c>, counting code points.</summary>
    public static string Truncate(string text, int maxCharacters)
    {
        // Fast path: a string of at most maxCharacters UTF-16 units has at most that many code points.
        if (text.Length <= maxCharacters)
        {
            return text;
        }

        // Walk code points until one more than the limit is seen; remember where the kept prefix ends.
        var keepUnits = 0;
        var codePoints = 0;
        var i = 0;
        while (i < text.Length && codePoints <= maxCharacters)
        {
            if (codePoints == maxCharacters - Ellipsis.Length)
            {
                keepUnits = i;
            }

            i += UnitsAt(text, i);
            codePoints++;
        }

        return codePoints <= maxCharacters ? text : string.Concat(text.AsSpan(0, keepUnits), Ellipsis);
    }

    /// <summary>Python's slice <c>s[:n]</c> in code points (no ellipsis): how MLflow cuts metadata and tags.</summary>
    public static string Cut(string text, int maxCharacters)
    {
        if (text.Length <= maxCharacters)
        {
            return text;
        }

        var i = 0;
        for (var codePoints = 0; i < text.Length && codePoints < maxCharacters; codePoints++)
        {
            i += UnitsAt(text, i);
        }

        return text[..i];
    }

    /// <summary>UTF-16 units of the code point at <paramref name="i"/>: 2 for a surrogate pair, else 1 (a lone
    /// surrogate is one code point in Python too).</summary>
    private static int UnitsAt(string text, int i) =>
        char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;

    /// <summary>
    /// The text of the chat message MLflow would preview, or null when the payload is not chat-shaped
    /// (<c>_try_extract_messages</c>, <c>_get_last_message</c>, <c>_get_text_content_from_message</c>). Only a JSON
    /// object can be chat-shaped, so anything else is not even parsed.
    /// </summary>
    private static string? ChatMessageText(ReadOnlySpan<byte> json, string role)
    {
        if (json.TrimStart(" \t\r\n"u8) is not [(byte)'{', ..])
        {
            return null;
        }

        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 256 });
            using var document = JsonDocument.ParseValue(ref reader);
            if (reader.Read())
            {
                return null; // Extra data after the value: json.loads refuses it.
            }

            return Messages(document.RootElement) is { Count: > 0 } messages ? TextContent(LastMessage(messages, role)) : null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // Not JSON .NET can read (Python's json.loads also takes NaN and lone surrogates): preview the raw text.
            return null;
        }
    }

    /// <summary>The message list of a chat-shaped object, checked in MLflow's order; an empty list when the first
    /// matching key holds no message (MLflow stops there too), null when no key matches.</summary>
    private static List<JsonElement>? Messages(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        if (value.TryGetProperty("messages", out var messages) && IsNonEmptyArray(messages))
        {
            return OnlyMessages(messages);
        }

        if (value.TryGetProperty("choices", out var choices) && IsNonEmptyArray(choices)
            && choices[0].ValueKind == JsonValueKind.Object
            && choices[0].TryGetProperty("message", out var message) && IsMessage(message))
        {
            return [message];
        }

        if (value.TryGetProperty("input", out var input) && IsNonEmptyArray(input))
        {
            return OnlyMessages(input);
        }

        if (value.TryGetProperty("output", out var output) && IsNonEmptyArray(output))
        {
            return OnlyMessages(output);
        }

        // A ResponsesAgent request wraps the OpenAI Responses request in "request".
        return value.TryGetProperty("request", out var request) ? Messages(request) : null;
    }

    private static bool IsNonEmptyArray(JsonElement value) => value.ValueKind == JsonValueKind.Array && value.GetArrayLength() > 0;

    private static List<JsonElement> OnlyMessages(JsonElement array)
    {
        var messages = new List<JsonElement>();
        foreach (var item in array.EnumerateArray())
        {
            if (IsMessage(item))
            {
                messages.Add(item);
            }
        }

        return messages;
    }

    private static bool IsMessage(JsonElement item) =>
        item.ValueKind == JsonValueKind.Object && item.TryGetProperty("role", out _) && item.TryGetProperty("content", out _);

    private static JsonElement LastMessage(List<JsonElement> messages, string role)
    {
        for (var i = messages.Count - 1; i >= 0; i--)
        {
            if (messages[i].GetProperty("role") is { ValueKind: JsonValueKind.String } messageRole && messageRole.ValueEquals(role))
            {
                return messages[i];
            }
        }

        return messages[^1];
    }

    /// <summary>A string content, or the first string part or text/output_text part of a content list. A part whose
    /// <c>text</c> is not a string gives null (MLflow would fail on it; we fall back to the raw JSON).</summary>
    private static string? TextContent(JsonElement message)
    {
        var content = message.GetProperty("content");
        if (content.ValueKind == JsonValueKind.String)
        {
            return content.GetString();
        }

        if (content.ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        foreach (var part in content.EnumerateArray())
        {
            if (part.ValueKind == JsonValueKind.String)
            {
                return part.GetString();
            }

            if (part.ValueKind == JsonValueKind.Object
                && part.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
                && (type.ValueEquals("text") || type.ValueEquals("output_text")))
            {
                return part.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String ? text.GetString() : null;
            }
        }

        return null;
    }
}
