namespace TraceStore.Engine.Segments;

/// <summary>How sealed traces are batched into segments: a segment is written once <see cref="SegmentTargetSpans"/>
/// spans are waiting, or once the oldest waiting trace has waited <see cref="SegmentMaxDelay"/>, whichever comes
/// first (and at once under memory pressure). Small segments are merged later by compaction.</summary>
public sealed record SealerOptions
{
    /// <summary>How often the assembler is asked for finished traces. Default 1 s.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Spans that make a segment worth writing. Default 200,000 (about 10K GenAI traces).</summary>
    public int SegmentTargetSpans { get; init; } = 200_000;

    /// <summary>Longest a finished trace waits for its segment (and so, for reads from segments). Default 30 s.</summary>
    public TimeSpan SegmentMaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Under memory pressure, traces are sealed until the budget is this fraction of its limit. Default 0.3: a
    /// pressure seal then frees about half the budget, so segments written under pressure are not tiny (at 0.6, a
    /// 16 MiB budget replaying a 148 MB WAL wrote 70 segments of about 2 MB) and each seal's fixed cost buys more.</summary>
    public double PressureTargetFraction { get; init; } = 0.3;

    /// <summary>Most trace-buffer bytes (as counted in the memory budget) written as one segment; more pending is
    /// written as several. The writer streams rows into DuckDB, so its DuckDB memory does not grow with this; what does
    /// is the writer's ordering arrays (about 100 bytes per span and 30 per attribute, for the time of one write).
    /// Each segment has fixed costs (four files and their fsyncs, catalog transactions, Parquet footers): bench seal,
    /// 2026-11-21, one file at a time and 24 MiB of DuckDB memory as before, 8 MiB segments sealed small spans at 60K
    /// spans/s and GenAI at 13K (728 B/span); at 64 MiB, two files at once, 80K and 27K (706 B/span); 32 and 128 MiB
    /// were within 5 % of 64. Default 64 MiB.</summary>
    public long MaxSegmentBufferBytes { get; init; } = 64L << 20;

    /// <summary>
    /// Test hook, for crash tests only (<c>tests/TraceStore.CrashHarness</c>, which may stop or kill the process
    /// inside it): called with the name of each <see cref="SealerCrashPoints"/> point the sealer passes, on the
    /// sealer's thread, inside its lock. Internal so that no embedder can set it; null (nothing called) otherwise.
    /// </summary>
    internal Action<string>? CrashPoint { get; init; }

    public SealerOptions Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxSegmentBufferBytes, 64L << 10, nameof(MaxSegmentBufferBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(Interval, TimeSpan.FromMilliseconds(10), nameof(Interval));
        ArgumentOutOfRangeException.ThrowIfLessThan(SegmentTargetSpans, 1, nameof(SegmentTargetSpans));
        ArgumentOutOfRangeException.ThrowIfLessThan(SegmentMaxDelay, TimeSpan.Zero, nameof(SegmentMaxDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(PressureTargetFraction, 0.05, nameof(PressureTargetFraction));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(PressureTargetFraction, 0.95, nameof(PressureTargetFraction));
        return this;
    }
}

/// <summary>The points between writing a segment and checkpointing the WAL where a crash leaves a distinct state on
/// disk (docs/segments.md, "Crash windows"); the names <see cref="SealerOptions.CrashPoint"/> is called with.</summary>
public static class SealerCrashPoints
{
    /// <summary>The segment folder is renamed into place (whole, fsynced); the catalog has no row for it yet.</summary>
    public const string SegmentWritten = "segment-written";

    /// <summary>The catalog row is committed; the WAL checkpoint has not moved past the segment's records.</summary>
    public const string CatalogCommitted = "catalog-committed";

    /// <summary>The WAL checkpoint has moved (or stayed, if something older is still open) after the commit.</summary>
    public const string Checkpointed = "checkpointed";
}
