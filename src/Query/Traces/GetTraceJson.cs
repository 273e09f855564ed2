using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using TraceStore.Engine.Traces;

namespace TraceStore.Query.Traces;

/// <summary>
/// The body of MLflow's GetTrace response (mlflow-tracing.md d.1): <c>{"trace": {"trace_info": TraceInfoV3, "spans":
/// [Span]}}</c>, where each span is an OpenTelemetry <c>Span</c> in proto JSON as MLflow serves it (a.2): snake_case
/// names, ids as base64 of their bytes, 64-bit integers as JSON numbers, enums by name, and attribute values typed
/// again from the stored JSON text (<c>"\"hello\""</c> → <c>string_value</c>, <c>5</c> → <c>int_value</c>, lists →
/// <c>array_value</c>, objects → <c>kvlist_value</c>; text that is not JSON stays a string, as MLflow's reader does).
/// Proto JSON omits default values: an unset status code and an empty status message are left out.
/// </summary>
public static class GetTraceJson
{
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = true };

    public static string ToJson(StoredTrace trace)
    {
        ArgumentNullException.ThrowIfNull(trace);
        return ToJson(trace.Summary, trace.Spans, nextPageToken: null);
    }

    /// <summary>A page of spans: the GetTrace body with this page's spans, plus <c>next_page_token</c> at the top level
    /// when another page follows (omitted on the last page, as proto JSON omits an empty string).</summary>
    public static string ToJson(TracePage page)
    {
        ArgumentNullException.ThrowIfNull(page);
        return ToJson(page.Summary, page.Spans, page.NextPageToken);
    }

    private static string ToJson(TraceSummary summary, IReadOnlyList<SpanRow> spans, string? nextPageToken)
    {
        var output = new ArrayBufferWriter<byte>(4096);
        using (var writer = new Utf8JsonWriter(output, Options))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("trace");
            writer.WritePropertyName("trace_info");
            TraceInfoJson.Write(writer, summary);
            writer.WriteStartArray("spans");
            foreach (var span in spans)
            {
                WriteSpan(writer, span);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
            if (!string.IsNullOrEmpty(nextPageToken))
            {
                writer.WriteString("next_page_token", nextPageToken);
            }

            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(output.WrittenSpan);
    }

    public static void WriteSpan(Utf8JsonWriter writer, SpanRow span)
    {
        writer.WriteStartObject();
        writer.WriteString("trace_id", HexToBase64(span.TraceId.AsSpan(3)));
        writer.WriteString("span_id", HexToBase64(span.SpanId));
        if (span.ParentSpanId is not null)
        {
            writer.WriteString("parent_span_id", HexToBase64(span.ParentSpanId));
        }

        writer.WriteString("name", span.Name);
        writer.WriteNumber("start_time_unix_nano", span.StartTimeNs);
        if (span.EndTimeNs is { } end)
        {
            writer.WriteNumber("end_time_unix_nano", end);
        }

        writer.WriteStartArray("attributes");
        foreach (var (key, json) in span.Attributes)
        {
            WriteKeyValue(writer, key, json, WriteStoredValue);
        }

        writer.WriteEndArray();
        writer.WriteStartArray("events");
        foreach (var spanEvent in span.Events)
        {
            writer.WriteStartObject();
            writer.WriteNumber("time_unix_nano", spanEvent.TimeNs);
            writer.WriteString("name", spanEvent.Name);
            writer.WriteStartArray("attributes");
            if (spanEvent.AttributesJson is { } attributes && TryParse(attributes) is { } document)
            {
                using (document)
                {
                    foreach (var property in document.RootElement.EnumerateObject())
                    {
                        WriteKeyValue(writer, property.Name, property.Value, WriteAnyValue);
                    }
                }
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteStartObject("status");
        if (!string.IsNullOrEmpty(span.StatusMessage))
        {
            writer.WriteString("message", span.StatusMessage);
        }

        if (span.Status != "UNSET")
        {
            writer.WriteString("code", "STATUS_CODE_" + span.Status);
        }

        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>A stored attribute value (JSON text) as a typed AnyValue; text that does not parse is a string.</summary>
    private static void WriteStoredValue(Utf8JsonWriter writer, string json)
    {
        using var document = TryParse(json);
        if (document is null)
        {
            writer.WriteStartObject();
            writer.WriteString("string_value", json);
            writer.WriteEndObject();
            return;
        }

        WriteAnyValue(writer, document.RootElement);
    }

    private static void WriteAnyValue(Utf8JsonWriter writer, JsonElement value)
    {
        writer.WriteStartObject();
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                writer.WriteString("string_value", value.GetString());
                break;
            case JsonValueKind.True:
            case JsonValueKind.False:
                writer.WriteBoolean("bool_value", value.GetBoolean());
                break;
            case JsonValueKind.Number when value.TryGetInt64(out var integer):
                writer.WriteNumber("int_value", integer);
                break;
            case JsonValueKind.Number:
                writer.WriteNumber("double_value", value.GetDouble());
                break;
            case JsonValueKind.Array:
                writer.WriteStartObject("array_value");
                writer.WriteStartArray("values");
                foreach (var element in value.EnumerateArray())
                {
                    WriteAnyValue(writer, element);
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
                break;
            case JsonValueKind.Object:
                writer.WriteStartObject("kvlist_value");
                writer.WriteStartArray("values");
                foreach (var property in value.EnumerateObject())
                {
                    WriteKeyValue(writer, property.Name, property.Value, WriteAnyValue);
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
                break;
            default:
                // JSON null: an AnyValue with no case set.
                break;
        }

        writer.WriteEndObject();
    }

    /// <summary>An OTLP <c>KeyValue</c>: <c>{"key": ..., "value": AnyValue}</c>.</summary>
    private static void WriteKeyValue<T>(Utf8JsonWriter writer, string key, T value, Action<Utf8JsonWriter, T> writeValue)
    {
        writer.WriteStartObject();
        writer.WriteString("key", key);
        writer.WritePropertyName("value");
        writeValue(writer, value);
        writer.WriteEndObject();
    }

    private static JsonDocument? TryParse(string json)
    {
        try
        {
            return JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string HexToBase64(ReadOnlySpan<char> hex)
    {
        Span<byte> bytes = stackalloc byte[hex.Length / 2];
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = byte.Parse(hex.Slice(i * 2, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        }

        return Convert.ToBase64String(bytes);
    }
}
