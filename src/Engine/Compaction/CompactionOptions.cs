namespace TraceStore.Engine.Compaction;

/// <summary>
/// How the store's maintenance loop compacts segments (and when it runs retention, <see cref="RetentionOptions"/>).
/// Each round: segments whose every trace is deleted are dropped without rewriting; a segment whose deleted traces
/// reach <see cref="RewriteDeletedFraction"/> is rewritten alone without them; then the oldest segments below
/// <see cref="SmallSegmentBytes"/> are merged, up to <see cref="TargetSegmentBytes"/> of input per merged segment,
/// until fewer than two are left; then replaced folders no reader still uses are deleted and deletions that have
/// done their work are purged. The defaults are starting points, not measured optima: the sealer writes segments of
/// at most 8 MiB of trace buffers (a few MB of Parquet), so 32 MiB gathers several of them, and 128 MiB keeps a
/// merge within a few times the compactor's DuckDB memory (it spills beyond that).
/// </summary>
public sealed record CompactionOptions
{
    /// <summary>Whether the loop runs by itself. False: nothing compacts or applies retention unless
    /// <c>TraceStore.CompactNow</c> / <c>EnforceRetentionNow</c> is called. Default true.</summary>
    public bool RunInBackground { get; init; } = true;

    /// <summary>Time between the end of one round and the start of the next. Default 30 s.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Segments smaller than this (bytes of their files) are merged. Default 32 MiB.</summary>
    public long SmallSegmentBytes { get; init; } = 32L << 20;

    /// <summary>A merge takes small segments, oldest first, until their bytes reach this. Default 128 MiB.</summary>
    public long TargetSegmentBytes { get; init; } = 128L << 20;

    /// <summary>A segment of any size is rewritten without its deleted traces once they are at least this fraction of
    /// its traces (so deleted and expired data leaves the disk even from large segments). Default 0.2.</summary>
    public double RewriteDeletedFraction { get; init; } = 0.2;

    /// <summary>How long a deleted trace's record is kept after its last part left the segments. While it is kept,
    /// spans of that trace still arriving (open in the assembler when it was deleted, or late) are deleted too; after
    /// it is purged, new spans with that id make a new trace, as spans logged to MLflow after a delete do. Cover the
    /// assembler's <c>MaxTraceAge</c> and the sealer's <c>SegmentMaxDelay</c>. Default 1 hour.</summary>
    public TimeSpan DeletedTraceGracePeriod { get; init; } = TimeSpan.FromHours(1);

    /// <summary>DuckDB memory for one merge (and for retention's queries); beyond it DuckDB spills to
    /// <c>DIR/tmp</c>. Outside the ingest memory budget, like the segment writer's. Default 64 MiB.</summary>
    public long MemoryLimitBytes { get; init; } = 64L << 20;

    public CompactionOptions Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Interval, TimeSpan.FromMilliseconds(1), nameof(Interval));
        ArgumentOutOfRangeException.ThrowIfLessThan(SmallSegmentBytes, 1, nameof(SmallSegmentBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(TargetSegmentBytes, 1, nameof(TargetSegmentBytes));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RewriteDeletedFraction, 0.0, nameof(RewriteDeletedFraction));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(RewriteDeletedFraction, 1.0, nameof(RewriteDeletedFraction));
        ArgumentOutOfRangeException.ThrowIfLessThan(DeletedTraceGracePeriod, TimeSpan.Zero, nameof(DeletedTraceGracePeriod));
        ArgumentOutOfRangeException.ThrowIfLessThan(MemoryLimitBytes, 16L << 20, nameof(MemoryLimitBytes));
        return this;
    }
}
