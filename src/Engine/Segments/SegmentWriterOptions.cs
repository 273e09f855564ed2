namespace TraceStore.Engine.Segments;

/// <summary>How the segment writer's scratch DuckDB is set up.</summary>
public sealed record SegmentWriterOptions
{
    /// <summary>DuckDB's buffer-managed memory for staging and writing a segment; beyond it DuckDB spills to the store's
    /// <c>tmp/</c> folder. Not in the memory budget: the process margin above the budget covers it (docs/ingest.md, "The
    /// memory budget"). Default 24 MiB.</summary>
    public long MemoryLimitBytes { get; init; } = 24L << 20;

    /// <summary>Files of a segment written at once (each on its own thread and DuckDB connection). Default 1.</summary>
    public int Threads { get; init; } = 1;

    public SegmentWriterOptions Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MemoryLimitBytes, 4L << 20, nameof(MemoryLimitBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(Threads, 1, nameof(Threads));
        return this;
    }
}
