using System.Text.Json.Nodes;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;

namespace TraceStore.OtlpOracle;

/// <summary>
/// OTLP/JSON as a spec-following exporter writes it: Google.Protobuf's JSON formatter, then trace and span ids
/// rewritten from base64 (protobuf JSON's bytes encoding) to hex, as OTLP requires.
/// </summary>
public static class OtlpJson
{
    private static readonly JsonFormatter CamelCase = new(JsonFormatter.Settings.Default);

    private static readonly JsonFormatter SnakeCaseIntEnums =
        new(JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true).WithFormatEnumsAsIntegers(true));

    public static string Format(ExportTraceServiceRequest request, bool snakeCase = false, bool upperHex = false)
    {
        var json = JsonNode.Parse((snakeCase ? SnakeCaseIntEnums : CamelCase).Format(request))!;
        foreach (var resourceSpans in Array(json, snakeCase ? "resource_spans" : "resourceSpans"))
        {
            foreach (var scopeSpans in Array(resourceSpans, snakeCase ? "scope_spans" : "scopeSpans"))
            {
                foreach (var span in Array(scopeSpans, "spans"))
                {
                    HexIds(span, snakeCase, upperHex);
                    foreach (var link in Array(span, "links"))
                    {
                        HexIds(link, snakeCase, upperHex);
                    }
                }
            }
        }

        return json.ToJsonString();
    }

    private static IEnumerable<JsonNode> Array(JsonNode node, string name) =>
        node[name] is JsonArray array ? array.Select(n => n!) : [];

    private static void HexIds(JsonNode node, bool snakeCase, bool upperHex)
    {
        foreach (var field in snakeCase ? new[] { "trace_id", "span_id", "parent_span_id" } : ["traceId", "spanId", "parentSpanId"])
        {
            if (node[field] is JsonValue value)
            {
                var hex = Convert.ToHexString(Convert.FromBase64String(value.GetValue<string>()));
                node[field] = upperHex ? hex : hex.ToLowerInvariant();
            }
        }
    }
}
