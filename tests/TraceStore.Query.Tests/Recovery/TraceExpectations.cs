using System.Globalization;
using System.Text;
using System.Text.Json;
using TraceStore.Engine.Traces;
using TraceStore.Query.Traces;
using OtlpStatusCode = OpenTelemetry.Proto.Trace.V1.Status.Types.StatusCode;

namespace TraceStore.Query.Tests.Recovery;

/// <summary>
/// What the store must give back for a <see cref="ModelTrace"/>, computed from the model alone by MLflow's rules
/// (mlflow-tracing.md a.2, c.3), written out here rather than taken from the store's own code: attribute values as
/// <c>json.dumps</c> text (strings that hold a JSON object kept as they are), the summary from every span of the
/// trace (earliest start, latest end, state and previews from the root, token usage counted only where no ancestor
/// reports usage). Throws with the trace and the field on the first difference.
/// </summary>
internal static class TraceExpectations
{
    private const int PreviewCharacters = 1000;

    public static void Check(ModelTrace model, StoredTrace? stored)
    {
        var id = model.MlflowId;
        Assert.True(stored is not null, $"{id}: not found");
        Assert.True(model.Spans.Count == stored.Spans.Count, $"{id}: {stored.Spans.Count} spans read, {model.Spans.Count} sent");
        var read = stored.Spans.ToDictionary(s => s.SpanId, StringComparer.Ordinal);
        foreach (var span in model.Spans)
        {
            Assert.True(read.TryGetValue(TraceModels.SpanIdHex(span.SpanId), out var row), $"{id}: span {span.Name} missing");
            CheckSpan(id, span, row);
        }

        CheckSummary(model, stored.Summary);
        using var json = JsonDocument.Parse(GetTraceJson.ToJson(stored));
        var trace = json.RootElement.GetProperty("trace");
        Assert.Equal(id, trace.GetProperty("trace_info").GetProperty("trace_id").GetString());
        Assert.Equal(model.Spans.Count, trace.GetProperty("spans").GetArrayLength());
    }

    private static void CheckSpan(string traceId, ModelSpan span, SpanRow row)
    {
        var what = $"{traceId}/{span.Name}";
        Assert.True(row.TraceId == traceId, what);
        Assert.True(row.ParentSpanId == (span.IsRoot ? null : TraceModels.SpanIdHex(span.ParentSpanId)), $"{what}: parent {row.ParentSpanId}");
        Assert.True(row.Name == span.Name, $"{what}: name {row.Name}");
        Assert.True(row.StartTimeNs == (long)span.StartNs, $"{what}: start {row.StartTimeNs}");
        Assert.True(row.EndTimeNs == (span.EndNs == 0 ? null : (long)span.EndNs), $"{what}: end {row.EndTimeNs}");
        Assert.True(row.Status == span.Status switch { OtlpStatusCode.Ok => "OK", OtlpStatusCode.Error => "ERROR", _ => "UNSET" }, $"{what}: status {row.Status}");
        Assert.True(row.StatusMessage == span.StatusMessage, $"{what}: status message {row.StatusMessage}");

        var expected = span.AllAttributes().ToDictionary(a => a.Key, a => StoredJson(a.Key, a.Value), StringComparer.Ordinal);
        var actual = row.Attributes.ToDictionary(a => a.Key, a => a.Value, StringComparer.Ordinal);
        Assert.True(row.Attributes.Count == actual.Count, $"{what}: an attribute read twice");
        Assert.True(
            expected.Count == actual.Count && expected.All(e => actual.TryGetValue(e.Key, out var v) && v == e.Value),
            $"{what}: attributes\n  sent   {string.Join(", ", expected.OrderBy(e => e.Key, StringComparer.Ordinal))}\n  stored {string.Join(", ", actual.OrderBy(e => e.Key, StringComparer.Ordinal))}");

        Assert.True(span.Events.Count == row.Events.Count, $"{what}: {row.Events.Count} events");
        for (var i = 0; i < span.Events.Count; i++)
        {
            var (sent, stored) = (span.Events[i], row.Events[i]);
            var attributes = sent.Detail is null ? null : $"{{\"detail\": {JsonString(sent.Detail)}}}";
            Assert.True(stored.Name == sent.Name && stored.TimeNs == (long)sent.TimeNs && stored.AttributesJson == attributes, $"{what}: event {i}: {stored}");
        }
    }

    private static void CheckSummary(ModelTrace model, TraceSummary summary)
    {
        var id = model.MlflowId;
        var root = model.Root;
        var requestTime = (long)(model.Spans.Min(s => s.StartNs) / 1_000_000UL);
        var ended = model.Spans.Where(s => s.EndNs != 0).ToList();
        long? duration = ended.Count == 0 ? null : (long)(ended.Max(s => s.EndNs) / 1_000_000UL) - requestTime;
        var usage = ExpectedUsage(model);
        var session = model.Spans.Select(s => s.SessionId).FirstOrDefault(s => s is not null);

        Assert.True(summary.TraceId == id, id);
        Assert.True(summary.ExperimentId == model.Experiment, $"{id}: experiment {summary.ExperimentId}");
        Assert.True(summary.SpanCount == model.Spans.Count, $"{id}: span count {summary.SpanCount}, {model.Spans.Count} sent");
        Assert.True(summary.ErrorSpanCount == model.Spans.Count(s => s.Status == OtlpStatusCode.Error), $"{id}: error spans {summary.ErrorSpanCount}");
        Assert.True(summary.RequestTimeMs == requestTime, $"{id}: request time {summary.RequestTimeMs}, expected {requestTime}");
        Assert.True(summary.ExecutionDurationMs == duration, $"{id}: duration {summary.ExecutionDurationMs}, expected {duration}");
        Assert.True(summary.State == (root.Status == OtlpStatusCode.Error ? TraceState.Error : TraceState.Ok), $"{id}: state {summary.State}, root {root.Status}");
        Assert.True(summary.TraceName == root.Name, $"{id}: trace name {summary.TraceName}");
        Assert.True(summary.Tags.TryGetValue(TraceInfoKeys.TraceNameTag, out var tag) && tag == root.Name, $"{id}: trace name tag");
        Assert.True(summary.RequestPreview == Preview(root.Inputs), $"{id}: request preview {summary.RequestPreview}");
        Assert.True(summary.ResponsePreview == Preview(root.Outputs), $"{id}: response preview {summary.ResponsePreview}");
        Assert.True(
            summary.TokenUsage is { } u ? usage is { } e && u.InputTokens == e.Input && u.OutputTokens == e.Output && u.TotalTokens == e.Input + e.Output && u.CacheReadInputTokens is null : usage is null,
            $"{id}: token usage {summary.TokenUsage}, expected {usage}");
        Assert.True(summary.SessionId == session, $"{id}: session {summary.SessionId}, expected {session}");
        Assert.True(summary.Metadata.GetValueOrDefault(TraceInfoKeys.Session) == session, $"{id}: session metadata");
        Assert.True(SameSet(summary.ServiceNames, model.Spans.Select(s => s.Service)), $"{id}: services {string.Join(",", summary.ServiceNames)}");
        Assert.True(SameSet(summary.SpanTypes, model.Spans.Select(s => s.SpanType ?? "UNKNOWN")), $"{id}: span types {string.Join(",", summary.SpanTypes)}");
        Assert.True(SameSet(summary.Models, model.Spans.Where(s => s.Model is not null).Select(s => s.Model!)), $"{id}: models {string.Join(",", summary.Models)}");
    }

    /// <summary>MLflow's aggregate: a span's usage counts only when no ancestor carries usage.</summary>
    private static (long Input, long Output)? ExpectedUsage(ModelTrace model)
    {
        var byId = model.Spans.ToDictionary(s => s.SpanId);
        (long Input, long Output)? total = null;
        foreach (var span in model.Spans.Where(s => s.Usage is not null))
        {
            var ancestorHasUsage = false;
            for (var parent = span.ParentSpanId; parent != 0 && !ancestorHasUsage; parent = byId[parent].ParentSpanId)
            {
                ancestorHasUsage = byId[parent].Usage is not null;
            }

            if (!ancestorHasUsage)
            {
                var (input, output) = span.Usage!.Value;
                total = ((total?.Input ?? 0) + input, (total?.Output ?? 0) + output);
            }
        }

        return total;
    }

    /// <summary>The stored form of an attribute value: a JSON object text (inputs, outputs, token usage) as sent,
    /// a string as a JSON string, integers and booleans as JSON literals.</summary>
    private static string StoredJson(string key, object value) => value switch
    {
        string s when key is "mlflow.spanInputs" or "mlflow.spanOutputs" or "mlflow.chat.tokenUsage" => s,
        string s => JsonString(s),
        long l => l.ToString(CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        _ => throw new ArgumentException($"unexpected attribute value {value}", nameof(value)),
    };

    /// <summary>Python's <c>json.dumps(s, ensure_ascii=False)</c> for the characters the model uses.</summary>
    private static string JsonString(string s)
    {
        var json = new StringBuilder("\"");
        foreach (var c in s)
        {
            json.Append(c switch { '"' => "\\\"", '\\' => "\\\\", '\t' => "\\t", '\n' => "\\n", _ => c.ToString() });
        }

        return json.Append('"').ToString();
    }

    /// <summary>The preview of a JSON object that is not a chat payload: its text, cut to 997 characters and "..."
    /// when longer than 1000 (the model's inputs and outputs are ASCII).</summary>
    private static string? Preview(string? json) =>
        json is null ? null : json.Length <= PreviewCharacters ? json : json[..(PreviewCharacters - 3)] + "...";

    private static bool SameSet(IEnumerable<string> actual, IEnumerable<string> expected) =>
        actual.Order(StringComparer.Ordinal).SequenceEqual(expected.Distinct().Order(StringComparer.Ordinal));
}
