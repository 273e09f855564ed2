using System.Text.Json;
using TraceStore.Protocol.GenAi;
using TraceStore.Protocol.Model;

namespace TraceStore.Server.Cli;

/// <summary>What <c>tracestore decode</c> tells about one decoded request: counts, and per trace its spans, root,
/// token usage (MLflow's nested-span rule) and span types.</summary>
internal sealed record DecodeReport(
    string File,
    string Format,
    string Encoding,
    long Bytes,
    long DecodedBytes,
    int Resources,
    int Scopes,
    int Spans,
    long RejectedSpans,
    string? FirstRejection,
    IReadOnlyList<DecodeReport.Trace> Traces,
    IReadOnlyDictionary<string, int> SpanTypes)
{
    public static DecodeReport Build(string file, string format, string encoding, long bytes, SpanBatch batch)
    {
        var usage = TraceTokenUsage.Aggregate(batch);
        var traces = new Dictionary<TraceId, (int Spans, string? Root, string? RootStatus, SortedDictionary<string, int> Types)>();
        var allTypes = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (ref readonly var span in batch.Spans.AsSpan())
        {
            var type = GenAiConventions.Describe(batch, span).SpanType;
            var entry = traces.TryGetValue(span.TraceId, out var existing) ? existing : (0, null, null, new SortedDictionary<string, int>(StringComparer.Ordinal));
            entry.Spans++;
            if (span.IsRoot)
            {
                entry.Root = batch.GetString(span.Name);
                entry.RootStatus = span.StatusCode == StatusCode.Error ? "ERROR" : "OK";
            }

            entry.Types[type] = entry.Types.GetValueOrDefault(type) + 1;
            allTypes[type] = allTypes.GetValueOrDefault(type) + 1;
            traces[span.TraceId] = entry;
        }

        var traceList = traces
            .Select(t => new Trace(t.Key.ToHex(), t.Key.ToMlflowId(), t.Value.Spans, t.Value.Root, t.Value.RootStatus, usage.TryGetValue(t.Key, out var u) ? u : null, t.Value.Types))
            .ToList();
        return new DecodeReport(file, format, encoding, bytes, batch.MessageBytes, batch.Resources.Count, batch.Scopes.Count, batch.Spans.Count,
            batch.RejectedSpans, batch.FirstRejection, traceList, allTypes);
    }

    public void WriteTable(TextWriter output)
    {
        output.WriteLine($"file        {File} ({Bytes:N0} bytes, {Format}, {Encoding}; {DecodedBytes:N0} bytes decoded)");
        output.WriteLine($"resources   {Resources}");
        output.WriteLine($"scopes      {Scopes}");
        output.WriteLine($"spans       {Spans}{(RejectedSpans > 0 ? $" ({RejectedSpans} rejected)" : "")}");
        output.WriteLine($"traces      {Traces.Count}");
        output.WriteLine($"span types  {string.Join(", ", SpanTypes.Select(t => $"{t.Key} {t.Value}"))}");
        if (FirstRejection is not null)
        {
            output.WriteLine($"rejected    {RejectedSpans} span(s); first: {FirstRejection}");
        }

        output.WriteLine();
        output.WriteLine($"{"trace",-35} {"spans",6}  {"root",-28} {"input",8} {"output",8} {"total",8}  span types");
        foreach (var trace in Traces)
        {
            var root = trace.Root is null ? "(not in this request)" : $"{trace.Root} ({trace.RootStatus})";
            output.WriteLine(
                $"{trace.MlflowTraceId,-35} {trace.Spans,6}  {Truncate(root, 28),-28} {trace.Usage?.InputTokens.ToString() ?? "-",8} {trace.Usage?.OutputTokens.ToString() ?? "-",8} {trace.Usage?.TotalTokens.ToString() ?? "-",8}  {string.Join(", ", trace.SpanTypes.Select(t => $"{t.Key} {t.Value}"))}");
        }
    }

    public void WriteJson(Stream output)
    {
        using var json = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("file", File);
        json.WriteString("format", Format);
        json.WriteString("content_encoding", Encoding);
        json.WriteNumber("bytes", Bytes);
        json.WriteNumber("decoded_bytes", DecodedBytes);
        json.WriteNumber("resources", Resources);
        json.WriteNumber("scopes", Scopes);
        json.WriteNumber("spans", Spans);
        json.WriteNumber("rejected_spans", RejectedSpans);
        json.WriteString("first_rejection", FirstRejection);
        json.WriteNumber("trace_count", Traces.Count);
        WriteCounts(json, "span_types", SpanTypes);
        json.WriteStartArray("traces");
        foreach (var trace in Traces)
        {
            json.WriteStartObject();
            json.WriteString("trace_id", trace.MlflowTraceId);
            json.WriteString("otel_trace_id", trace.TraceId);
            json.WriteNumber("spans", trace.Spans);
            json.WriteString("root_span", trace.Root);
            json.WriteString("root_status", trace.RootStatus);
            if (trace.Usage is { } usage)
            {
                json.WriteStartObject("token_usage");
                json.WriteNumber("input_tokens", usage.InputTokens);
                json.WriteNumber("output_tokens", usage.OutputTokens);
                json.WriteNumber("total_tokens", usage.TotalTokens);
                json.WriteEndObject();
            }
            else
            {
                json.WriteNull("token_usage");
            }

            WriteCounts(json, "span_types", trace.SpanTypes);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteCounts(Utf8JsonWriter json, string name, IReadOnlyDictionary<string, int> counts)
    {
        json.WriteStartObject(name);
        foreach (var (key, value) in counts)
        {
            json.WriteNumber(key, value);
        }

        json.WriteEndObject();
    }

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..(length - 1)] + "…";

    internal sealed record Trace(string TraceId, string MlflowTraceId, int Spans, string? Root, string? RootStatus, TokenUsage? Usage, IReadOnlyDictionary<string, int> SpanTypes);
}
