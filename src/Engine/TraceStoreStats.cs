namespace TraceStore.Engine;

/// <summary>A snapshot of one store's counters since it opened (replay figures describe the open itself).</summary>
public sealed record TraceStoreStats
{
    public bool Healthy { get; init; }

    /// <summary>Why the store is unhealthy (the WAL's storage failure), or null.</summary>
    public string? Problem { get; init; }

    public long AcceptedRequests { get; init; }

    public long RejectedRequests { get; init; }

    public long OverloadedRequests { get; init; }

    public long UnavailableRequests { get; init; }

    public long AcceptedSpans { get; init; }

    /// <summary>Spans refused by per-span validation inside accepted requests (partial success).</summary>
    public long RejectedSpans { get; init; }

    /// <summary>Body bytes (as received) of accepted requests.</summary>
    public long AcceptedBytes { get; init; }

    /// <summary>WAL records read back and verified when the store opened, and the spans of those not yet in segments
    /// (assembled again).</summary>
    public long ReplayedRecords { get; init; }

    public long ReplayedSpans { get; init; }

    /// <summary>Bytes of WAL records read back and verified at open.</summary>
    public long ReplayedBytes { get; init; }

    public long LastWalSequence { get; init; }

    /// <summary>Traces the assembler holds open now.</summary>
    public long OpenTraces { get; init; }

    /// <summary>Committed segments in the catalog, and segments written since the store opened.</summary>
    public long Segments { get; init; }

    public long SegmentsWritten { get; init; }

    /// <summary>Traces and spans in committed segments (a trace sealed in parts counts once per part), and the bytes
    /// of their files.</summary>
    public long SealedTraces { get; init; }

    public long SealedSpans { get; init; }

    public long SegmentBytes { get; init; }

    /// <summary>Segments compaction removed since the store opened (merged into others, rewritten or dropped).</summary>
    public long SegmentsCompacted { get; init; }

    /// <summary>Background maintenance rounds since the store opened that put merges off because ingest was short of
    /// memory (<c>CompactionOptions.MaxMergeDeferral</c>).</summary>
    public long CompactionRoundsDeferred { get; init; }

    /// <summary>Experiments with sealed traces.</summary>
    public IReadOnlyList<string> Experiments { get; init; } = [];

    /// <summary>Bytes of WAL segment files on disk now.</summary>
    public long WalBytes { get; init; }

    /// <summary>Spans received again while their trace was still open (client retries), kept once.</summary>
    public long DuplicateSpans { get; init; }

    public long MemoryUsedBytes { get; init; }

    public long MemoryPeakBytes { get; init; }

    /// <summary>Why the last segment write failed, while writes keep failing (the traces stay pending and are retried
    /// every round); null once a write succeeds.</summary>
    public string? SealProblem { get; init; }

    public long MemoryBudgetBytes { get; init; }
}
