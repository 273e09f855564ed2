using TraceStore.Engine.Assembly;
using TraceStore.Protocol.GenAi;

namespace TraceStore.Engine.Traces;

/// <summary>MLflow's <c>TraceState</c> (mlflow-tracing.md a.1); the numbers are the proto enum's.</summary>
public enum TraceState
{
    StateUnspecified = 0,
    Ok = 1,
    Error = 2,
    InProgress = 3,
}

/// <summary>
/// MLflow's <c>mlflow.trace.sizeStats</c> (mlflow-tracing.md b.2): span count, the sum of span sizes, and the largest
/// and 25th/50th/75th percentile span size, all in bytes. What a span's size is: see <see cref="SpanSize"/>.
/// </summary>
public readonly record struct SpanSizeStats(long TotalSizeBytes, int NumSpans, long Max, long P25, long P50, long P75);

/// <summary>
/// What MLflow's <c>TraceInfo</c> says about one trace, derived from every span received so far
/// (<see cref="TraceSummaryBuilder"/>, mlflow-tracing.md c.3), plus the facts our users filter on. Immutable; a later
/// span means a new summary. The dictionaries compare by reference (record equality does not look inside them).
/// </summary>
public sealed record TraceSummary
{
    public required TraceKey Key { get; init; }

    public string ExperimentId => Key.ExperimentId;

    /// <summary>MLflow's trace id: <c>tr-</c> and the 32 lowercase hex characters of the OpenTelemetry trace id.</summary>
    public string TraceId => Key.TraceId.ToMlflowId();

    /// <summary>Trace start in ms since the Unix epoch: the earliest span start, floored as MLflow floors it
    /// (<see cref="MlflowTime.NanosToMillis"/>).</summary>
    public required long RequestTimeMs { get; init; }

    /// <summary>Latest span end (ms, floored the same way) minus <see cref="RequestTimeMs"/>; null while no span has
    /// ended.</summary>
    public required long? ExecutionDurationMs { get; init; }

    /// <summary><see cref="TraceState.InProgress"/> until the root span arrives, then from the root's status:
    /// ERROR → <see cref="TraceState.Error"/>, OK or UNSET → <see cref="TraceState.Ok"/>.</summary>
    public required TraceState State { get; init; }

    /// <summary>The root span's inputs as MLflow previews them (<see cref="PreviewText"/>); null without a root or
    /// when the root has no inputs.</summary>
    public required string? RequestPreview { get; init; }

    public required string? ResponsePreview { get; init; }

    /// <summary>Token usage summed over spans, a span counting only when no ancestor carries usage; null when no span
    /// reports usage.</summary>
    public required TokenUsage? TokenUsage { get; init; }

    /// <summary>The first <c>session.id</c> / <c>user.id</c> seen, in arrival order, as plain text.</summary>
    public required string? SessionId { get; init; }

    public required string? UserId { get; init; }

    /// <summary>The root span's name (tag <c>mlflow.traceName</c>); null until the root arrives.</summary>
    public required string? TraceName { get; init; }

    public required int SpanCount { get; init; }

    /// <summary>Spans whose status is ERROR.</summary>
    public required int ErrorSpanCount { get; init; }

    public required SpanSizeStats SizeStats { get; init; }

    /// <summary>Distinct <c>service.name</c> values of the resources that sent spans, in first-seen order.</summary>
    public required IReadOnlyList<string> ServiceNames { get; init; }

    /// <summary>Distinct models (<c>mlflow.llm.model</c> or what the conventions map to it), in first-seen order.</summary>
    public required IReadOnlyList<string> Models { get; init; }

    /// <summary>Distinct MLflow span types, in first-seen order.</summary>
    public required IReadOnlyList<string> SpanTypes { get; init; }

    /// <summary>Lowest WAL sequence any span came from: the WAL must be kept from here while this summary is open.</summary>
    public required long LowestWalSequence { get; init; }

    /// <summary>Trace metadata as MLflow holds it (<see cref="TraceInfoKeys"/>), ordered by key (ordinal).</summary>
    public required IReadOnlyDictionary<string, string> Metadata { get; init; }

    /// <summary>Trace tags as MLflow sets them on the OTLP path, ordered by key (ordinal).</summary>
    public required IReadOnlyDictionary<string, string> Tags { get; init; }
}

/// <summary>Reserved metadata and tag keys and values (mlflow-tracing.md b.2, b.3).</summary>
public static class TraceInfoKeys
{
    public const string SchemaVersion = "mlflow.trace_schema.version";
    public const string SchemaVersionValue = "3";
    public const string TokenUsage = "mlflow.trace.tokenUsage";
    public const string Session = "mlflow.trace.session";
    public const string User = "mlflow.trace.user";
    public const string SizeStats = "mlflow.trace.sizeStats";
    public const string TraceNameTag = "mlflow.traceName";
    public const string SpansLocationTag = "mlflow.trace.spansLocation";
    public const string SpansLocationTrackingStore = "TRACKING_STORE";
}
