using TraceStore.Engine.Traces;

namespace TraceStore.Query.Traces;

/// <summary>A span as read back (from a segment or an unsealed trace), in MLflow's stored form (attribute values are JSON text).</summary>
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

/// <summary>A trace read back (sealed, unsealed or both): its summary and every span once.</summary>
public sealed record StoredTrace(TraceSummary Summary, IReadOnlyList<SpanRow> Spans);

/// <summary>One page of a trace's spans (ordered by start time, then span id) with the trace's summary; a null
/// <see cref="NextPageToken"/> means this is the last page.</summary>
public sealed record TracePage(TraceSummary Summary, IReadOnlyList<SpanRow> Spans, string? NextPageToken);
