using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace TraceStore.Engine.Traces;

/// <summary>
/// Writes a <see cref="TraceSummary"/> as MLflow's REST <c>TraceInfoV3</c> JSON (mlflow-tracing.md a.1, d): proto
/// JSON with snake_case names, enums by name, <c>request_time</c> as an RFC 3339 Timestamp string,
/// <c>execution_duration</c> as a Duration string (<c>"1.500s"</c>). Unset optional fields (previews, duration) are
/// omitted, as protobuf's JSON printer omits them; so are empty <c>assessments</c> and the never-populated
/// <c>client_request_id</c>, <c>request</c> and <c>response</c>. Metadata keys and values are cut to 250 characters
/// and tag keys to 250, tag values to 4096, as MLflow does when it turns a TraceInfo into its proto (a.1, g).
/// Fields follow the proto's field order (JSON readers must not depend on it); maps are in ordinal key order.
/// </summary>
public static class TraceInfoJson
{
    public const int MaxMetadataCharacters = 250;
    public const int MaxTagKeyCharacters = 250;
    public const int MaxTagValueCharacters = 4096;

    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string ToJson(TraceSummary summary)
    {
        var output = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(output, Options))
        {
            Write(writer, summary);
        }

        return Encoding.UTF8.GetString(output.WrittenSpan);
    }

    /// <summary>Writes the TraceInfo object (the value of <c>trace_info</c> in GetTrace, an element of
    /// <c>traces</c> in SearchTracesV3).</summary>
    public static void Write(Utf8JsonWriter writer, TraceSummary summary)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(summary);
        writer.WriteStartObject();
        writer.WriteString("trace_id", summary.TraceId);
        writer.WriteStartObject("trace_location");
        writer.WriteString("type", "MLFLOW_EXPERIMENT");
        writer.WriteStartObject("mlflow_experiment");
        writer.WriteString("experiment_id", summary.ExperimentId);
        writer.WriteEndObject();
        writer.WriteEndObject();
        if (summary.RequestPreview is not null)
        {
            writer.WriteString("request_preview", summary.RequestPreview);
        }

        if (summary.ResponsePreview is not null)
        {
            writer.WriteString("response_preview", summary.ResponsePreview);
        }

        writer.WriteString("request_time", MlflowTime.TimestampJson(summary.RequestTimeMs));
        if (summary.ExecutionDurationMs is { } duration)
        {
            writer.WriteString("execution_duration", MlflowTime.DurationJson(duration));
        }

        writer.WriteString("state", StateName(summary.State));
        WriteMap(writer, "trace_metadata", summary.Metadata, MaxMetadataCharacters, MaxMetadataCharacters);
        WriteMap(writer, "tags", summary.Tags, MaxTagKeyCharacters, MaxTagValueCharacters);
        writer.WriteEndObject();
    }

    /// <summary>The proto enum value name (<c>TraceInfoV3.State</c>).</summary>
    public static string StateName(TraceState state) => state switch
    {
        TraceState.Ok => "OK",
        TraceState.Error => "ERROR",
        TraceState.InProgress => "IN_PROGRESS",
        _ => "STATE_UNSPECIFIED",
    };

    private static void WriteMap(Utf8JsonWriter writer, string name, IReadOnlyDictionary<string, string> map, int maxKey, int maxValue)
    {
        writer.WriteStartObject(name);
        foreach (var (key, value) in map)
        {
            writer.WriteString(PreviewText.Cut(key, maxKey), PreviewText.Cut(value, maxValue));
        }

        writer.WriteEndObject();
    }
}
