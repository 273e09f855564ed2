namespace TraceStore.Engine.Compaction;

/// <summary>
/// How the store's maintenance loop compacts segments (and when it runs retention, <see cref="RetentionOptions"/>).
/// Each round: segments whose every trace is deleted are dropped without rewriting; a segment whose deleted traces
/// reach <see cref="RewriteDeletedFraction"/> is rewritten alone without them; then the oldest segments below
/// <see cref="SmallSegmentBytes"/> are merged, up to <see cref="TargetSegmentBytes"/> of input per merged segment,
/// until fewer than two are left; then replaced folders no reader still uses are deleted and deletions that have
/// done their work are purged. <see cref="SmallSegmentBytes"/>, <see cref="TargetSegmentBytes"/> and
/// <see cref="Interval"/> are starting points, not measured optima (docs/segments.md, "Compaction", has what
/// <c>tracestore bench compact</c> measured); <see cref="MemoryLimitBytes"/> was raised from 64 MiB by measurement.
/// </summary>
public sealed record CompactionOptions
{
    /// <summary>Whether the loop runs by itself. False: nothing compacts or applies retention unless
    /// <c>TraceStore.CompactNow</c> / <c>EnforceRetentionNow</c> is called. Default true.</summary>
    public bool RunInBackground { get; init; } = true;

    /// <summary>Time between the end of one round and the start of the next. Default 30 s.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long the background loop may put merges off while ingest is short of memory (a reservation in
    /// the ingest budget did not fit since the last round: clients waiting or refused). A merge takes processor time
    /// and DuckDB memory outside the budget, both of which ingest needs then; past this, merges run anyway, so
    /// segments do not pile up without bound under sustained overload. Zero: never put off. Default 5 minutes.</summary>
    public TimeSpan MaxMergeDeferral { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Segments smaller than this (bytes of their files) are merged. Default 32 MiB.</summary>
    public long SmallSegmentBytes { get; init; } = 32L << 20;

    /// <summary>A merge takes small segments, oldest first, until their bytes reach this. Default 128 MiB.</summary>
    public long TargetSegmentBytes { get; init; } = 128L << 20;

    /// <summary>A merge takes at most this many segments (and more merges follow in the same round). Each input is
    /// read by a stream of its own that holds one row group and one chunk while the merge runs, so the count, not the
    /// bytes, bounds a merge's reading memory when segments are tiny (a store with little traffic seals one every
    /// <c>SegmentMaxDelay</c>). Default 32, from <c>tracestore bench compact --merges "x 1 request"</c> (2026-11-22): one
    /// merge of 32 one-request segments peaked at 474 MiB of process memory (small spans; 444 GenAI), of 256 at
    /// 1,462 MiB (843 GenAI), the process holding 266-356 MiB before (docs/segments.md, "Many tiny segments").</summary>
    public int MaxMergeInputs { get; init; } = 32;

    /// <summary>A segment of any size is rewritten without its deleted traces once they are at least this fraction of
    /// its traces (so deleted and expired data leaves the disk even from large segments). Default 0.2.</summary>
    public double RewriteDeletedFraction { get; init; } = 0.2;

    /// <summary>How long a deleted trace's record is kept after its last part left the segments. While it is kept,
    /// spans of that trace still arriving (open in the assembler when it was deleted, or late) are deleted too; after
    /// it is purged, new spans with that id make a new trace, as spans logged to MLflow after a delete do. Cover the
    /// assembler's <c>MaxTraceAge</c> and the sealer's <c>SegmentMaxDelay</c>. Default 1 hour.</summary>
    public TimeSpan DeletedTraceGracePeriod { get; init; } = TimeSpan.FromHours(1);

    /// <summary>DuckDB memory for one merge's writing (and for retention's queries); beyond it DuckDB spills to
    /// <c>DIR/tmp</c>. A merge reads its inputs in a second DuckDB limited to what their open row groups need (one per
    /// input, which cannot spill; docs/segments.md, "Compaction"). Outside the ingest memory budget, like the segment
    /// writer's. Default 256 MiB, measured by <c>tracestore bench compact --rounds 1</c> when merges sorted rows
    /// (2026-11-22): at 64 MiB every GenAI merge and the merge of 12 default-size small segments failed. The k-way merge
    /// completes both 12-segment merges at 64 MiB, with or without tag changes to fold (those ran out of memory at
    /// 64 MiB while the fold was SQL over every summary). The merge's text index build (when segments carry one) runs
    /// in this DuckDB too and was not measured at 64 MiB, so the default stays.</summary>
    public long MemoryLimitBytes { get; init; } = 256L << 20;

    public CompactionOptions Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Interval, TimeSpan.FromMilliseconds(1), nameof(Interval));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxMergeDeferral, TimeSpan.Zero, nameof(MaxMergeDeferral));
        ArgumentOutOfRangeException.ThrowIfLessThan(SmallSegmentBytes, 1, nameof(SmallSegmentBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(TargetSegmentBytes, 1, nameof(TargetSegmentBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxMergeInputs, 2, nameof(MaxMergeInputs));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RewriteDeletedFraction, 0.0, nameof(RewriteDeletedFraction));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(RewriteDeletedFraction, 1.0, nameof(RewriteDeletedFraction));
        ArgumentOutOfRangeException.ThrowIfLessThan(DeletedTraceGracePeriod, TimeSpan.Zero, nameof(DeletedTraceGracePeriod));
        ArgumentOutOfRangeException.ThrowIfLessThan(MemoryLimitBytes, 16L << 20, nameof(MemoryLimitBytes));
        return this;
    }
}
