using TraceStore.Engine.Traces;

namespace TraceStore.Query.Traces;

/// <summary>A span as read back from a segment, in MLflow's stored form (attribute values are JSON text).</summary>
public sealed record SpanRow(
    string TraceId,
    string SpanId,
    string? ParentSpanId,
    string Name,
    long StartTimeNs,
    long? EndTimeNs,
    string Status,
    string? StatusMessage,
    IReadOnlyList<KeyValuePair<string, string>> Attributes,
    IReadOnlyList<EventRow> Events);

/// <summary>A span event: time, name, and its attributes as one JSON object of raw values (null when none).</summary>
public sealed record EventRow(string Name, long TimeNs, string? AttributesJson);

/// <summary>A trace read back from segments: its latest summary and every span once.</summary>
public sealed record StoredTrace(TraceSummary Summary, IReadOnlyList<SpanRow> Spans);
