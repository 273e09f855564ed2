namespace TraceStore.Engine.Segments;

/// <summary>How the segment writer's scratch DuckDB is set up.</summary>
public sealed record SegmentWriterOptions
{
    /// <summary>
    /// The cap on the writer's DuckDB memory. What the writer needs is bounded by design, not by this cap: rows stream
    /// in (nothing is staged), so DuckDB holds about one row group per file being written (<see
    /// cref="SegmentFormat.SpanRowGroupRows"/> spans, 122,880 attribute rows, 8,192 payload rows). The cap is a backstop
    /// set well above that, because reaching it is fatal here: DuckDB throws its out-of-memory error from inside the
    /// table-function callback that fills a chunk (growing a list vector), and a C++ exception cannot unwind through
    /// the managed callback, so the process aborts (seen at a 64 MiB cap with two files written at once). Not in the
    /// memory budget: the process margin above the budget covers it (docs/ingest.md, "The memory budget").
    /// Default 512 MiB.
    /// </summary>
    public long MemoryLimitBytes { get; init; } = 512L << 20;

    /// <summary>Files of a segment written at once, each on its own thread and DuckDB connection (DuckDB writes one
    /// file on one thread). Default 2: on the 2-core machine (bench seal, 64 distinct requests, load 1.4-2.6) small
    /// spans sealed at 80K spans/s against 63K one file at a time, GenAI spans 27K against 19K; with the machine loaded
    /// by other work it made no difference either way. Each file being written holds one row group in DuckDB.</summary>
    public int Threads { get; init; } = 2;

    /// <summary>Whether each segment gets its text index (<see cref="TextIndexFormat"/>), built after the other files
    /// from what they hold; compaction keeps it for merges of indexed segments. Default false: measured (bench seal,
    /// docs/text-search.md) it cut GenAI seal throughput to 0.42-0.44x, while searches with it took 0.42-0.80x the
    /// time of a scan on the benchmark's text; without it, <c>trace.text</c> searches scan the segments' text.</summary>
    public bool TextIndex { get; init; }

    /// <summary>Spans per block of the text index (<see cref="TextIndexFormat.BlockSpans"/>): smaller blocks rule out
    /// more rows per search and cost more index bytes. For measuring; compaction uses the default.</summary>
    public int TextIndexBlockSpans { get; init; } = TextIndexFormat.BlockSpans;

    /// <summary>zstd's level for the files of sealed segments (1-22). Not part of the format: any level reads the same,
    /// and compaction writes merged segments at <see cref="SegmentFormat.DefaultCompressionLevel"/>. Default 3
    /// (DuckDB's own): measured side by side (bench seal, 2026-11-22, load 8-18), level 1 saved no processor time per
    /// span within the noise (small 0.98x, genai 0.95x spans per CPU-second) and took 5 % more bytes for GenAI spans.</summary>
    public int CompressionLevel { get; init; } = SegmentFormat.DefaultCompressionLevel;

    /// <summary>Whether the files of sealed segments carry Parquet bloom filters (DuckDB writes them for
    /// dictionary-encoded columns; a reader skips row groups by them on equality filters, e.g. a span name or model).
    /// Default true: without them one measurement sealed 1.07x (small) and 1.16x (genai) the spans per CPU-second,
    /// within this machine's noise and at the cost of that pruning.</summary>
    public bool BloomFilters { get; init; } = true;

    public SegmentWriterOptions Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(CompressionLevel, 1, nameof(CompressionLevel));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(CompressionLevel, 22, nameof(CompressionLevel));
        ArgumentOutOfRangeException.ThrowIfLessThan(MemoryLimitBytes, 4L << 20, nameof(MemoryLimitBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(Threads, 1, nameof(Threads));
        ArgumentOutOfRangeException.ThrowIfLessThan(TextIndexBlockSpans, 1, nameof(TextIndexBlockSpans));
        return this;
    }
}
