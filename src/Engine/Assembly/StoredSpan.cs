using TraceStore.Protocol.GenAi;
using TraceStore.Protocol.Model;

namespace TraceStore.Engine.Assembly;

/// <summary>A trace of one experiment: the unit the assembler buffers and the sealer writes.</summary>
public readonly record struct TraceKey(string ExperimentId, TraceId TraceId);

/// <summary>
/// One span as the store keeps it, in MLflow's model (mlflow-tracing.md a.2, c.2, c.3): strings are slices of the
/// owning <see cref="TraceBuffer"/>'s arena (UTF-8). Attribute values are stored as MLflow stores them: JSON text,
/// with one level of string encoding stripped when the string itself holds JSON (<see cref="MlflowStoredJson"/>).
/// <see cref="Inputs"/> and <see cref="Outputs"/> are the span's inputs and outputs in the same JSON form, taken from
/// whichever convention had them; empty when the span has none.
/// </summary>
public record struct StoredSpan
{
    public SpanId SpanId;

    /// <summary>Empty for a root span.</summary>
    public SpanId ParentSpanId;
    public ArenaSlice Name;
    public SpanKind Kind;

    /// <summary>Nanoseconds since the Unix epoch; 0 when not set.</summary>
    public ulong StartTimeUnixNano;

    /// <summary>Nanoseconds since the Unix epoch; 0 when the span has not ended (or the client did not say).</summary>
    public ulong EndTimeUnixNano;
    public StatusCode StatusCode;
    public ArenaSlice StatusMessage;

    /// <summary>MLflow span type (<c>LLM</c>, <c>TOOL</c>, ...; <c>UNKNOWN</c> when no convention says).</summary>
    public ArenaSlice SpanType;
    public ArenaSlice Inputs;
    public ArenaSlice Outputs;
    public TokenUsage? Usage;
    public ArenaSlice Model;
    public ArenaSlice Provider;
    public ArenaSlice SessionId;
    public ArenaSlice UserId;

    /// <summary>The <c>service.name</c> of the resource that sent the span.</summary>
    public ArenaSlice ServiceName;

    /// <summary>Range in <see cref="TraceBuffer.Attributes"/>.</summary>
    public RecordRange Attributes;

    /// <summary>Range in <see cref="TraceBuffer.Events"/>.</summary>
    public RecordRange Events;

    /// <summary>The WAL record this span came from: the trace needs the WAL kept from its lowest such sequence.</summary>
    public long WalSequence;

    public readonly bool IsRoot => ParentSpanId.IsEmpty;

    public readonly bool HasEnded => EndTimeUnixNano != 0;
}

/// <summary>A span attribute: its key and its value as MLflow stores it (JSON text).</summary>
public readonly record struct StoredKeyValue(ArenaSlice Key, ArenaSlice Value);

/// <summary>A span event. MLflow does not JSON-encode event attribute values: <see cref="Attributes"/> is one JSON
/// object of the raw values (empty when the event has none).</summary>
public readonly record struct StoredEvent(ArenaSlice Name, ulong TimeUnixNano, ArenaSlice Attributes);
