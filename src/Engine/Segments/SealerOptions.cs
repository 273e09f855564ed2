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
    /// written as several. Bounds the segment writer's DuckDB memory: sorting a segment for COPY took more than 24 MiB
    /// for 20 MiB of buffers and fit for 12 MiB, so the default is a third of the writer's 24 MiB limit. Default 8 MiB.</summary>
    public long MaxSegmentBufferBytes { get; init; } = 8L << 20;

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
