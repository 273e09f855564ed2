using TraceStore.Protocol.Otlp;

namespace TraceStore.Engine.Ingest;

/// <summary>What happened to one ingest request.</summary>
public enum IngestOutcome
{
    /// <summary>Logged durably (per the WAL's durability mode). Some spans may have been refused: see
    /// <see cref="IngestResult.RejectedSpans"/> (OTLP partial success).</summary>
    Accepted,

    /// <summary>Bad input: the client must not retry it (HTTP 400, gRPC INVALID_ARGUMENT). Nothing was logged.</summary>
    Rejected,

    /// <summary>The memory budget is full: retry after <see cref="IngestResult.RetryAfter"/> (HTTP 429/503, gRPC
    /// RESOURCE_EXHAUSTED). Nothing was buffered or logged.</summary>
    Overloaded,

    /// <summary>Storage failed (disk full, or the WAL stopped after an fsync failure). Nothing was acknowledged;
    /// <see cref="IngestResult.Retryable"/> says whether retrying can help (HTTP 503, gRPC UNAVAILABLE).</summary>
    Unavailable,
}

/// <summary>
/// The answer to one ingest request. Exactly one of the outcome-specific members is meaningful:
/// counts and <see cref="WalSequence"/> for <see cref="IngestOutcome.Accepted"/>, <see cref="DecodeError"/> for
/// <see cref="IngestOutcome.Rejected"/>, <see cref="RetryAfter"/> for <see cref="IngestOutcome.Overloaded"/>.
/// </summary>
public sealed record IngestResult
{
    private IngestResult(IngestOutcome outcome) => Outcome = outcome;

    public IngestOutcome Outcome { get; }

    /// <summary>Spans the request carried that passed validation and are now stored.</summary>
    public int AcceptedSpans { get; private init; }

    /// <summary>Spans refused by per-span validation (bad ids, bad UTF-8, end before start).</summary>
    public long RejectedSpans { get; private init; }

    /// <summary>Why the first refused span was refused, with its field path.</summary>
    public string? FirstRejection { get; private init; }

    /// <summary>The WAL record holding the request; 0 when nothing needed logging (no valid spans).</summary>
    public long WalSequence { get; private init; }

    /// <summary>For a rejected body: what is wrong and where. Null when the request was refused for its experiment id.</summary>
    public OtlpDecodeException? DecodeError { get; private init; }

    public TimeSpan RetryAfter { get; private init; }

    /// <summary>For <see cref="IngestOutcome.Overloaded"/> always true; for <see cref="IngestOutcome.Unavailable"/>, true
    /// when the condition can clear by itself (a full disk), false when the store is unhealthy until restarted.</summary>
    public bool Retryable { get; private init; }

    /// <summary>A sentence for logs and error responses.</summary>
    public string Message { get; private init; } = "";

    public static IngestResult Accepted(int acceptedSpans, long rejectedSpans, string? firstRejection, long walSequence) => new(IngestOutcome.Accepted)
    {
        AcceptedSpans = acceptedSpans,
        RejectedSpans = rejectedSpans,
        FirstRejection = firstRejection,
        WalSequence = walSequence,
        Message = rejectedSpans == 0
            ? $"accepted {acceptedSpans} spans"
            : $"accepted {acceptedSpans} spans, rejected {rejectedSpans}: {firstRejection}",
    };

    public static IngestResult Rejected(OtlpDecodeException error) => new(IngestOutcome.Rejected) { DecodeError = error, Message = error.Message };

    /// <summary>Refused for something other than the body, e.g. an invalid experiment id.</summary>
    public static IngestResult Rejected(string message) => new(IngestOutcome.Rejected) { Message = message };

    public static IngestResult Overloaded(TimeSpan retryAfter, string message) => new(IngestOutcome.Overloaded) { RetryAfter = retryAfter, Retryable = true, Message = message };

    public static IngestResult Unavailable(string message, bool retryable) => new(IngestOutcome.Unavailable) { Retryable = retryable, Message = message };
}
