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

    /// <summary>zstd level (DuckDB's <c>COMPRESSION_LEVEL</c>, 1-22) of the spans file this writer writes.
    /// Levels are not part of the format: any level reads the same. The text index and compaction use
    /// <see cref="SegmentFormat"/>'s defaults. Default <see cref="SegmentFormat.ZstdLevel"/> (docs/segments.md,
    /// "Bytes on disk", has the measured levels).</summary>
    public int ZstdLevel { get; init; } = SegmentFormat.ZstdLevel;

    /// <summary>zstd level of the traces file, whose previews are text: level 1 made genai-text's 15 bytes per span larger
    /// than level 3. Default <see cref="SegmentFormat.TracesZstdLevel"/>.</summary>
    public int TracesZstdLevel { get; init; } = SegmentFormat.TracesZstdLevel;

    /// <summary>zstd level of the attrs file, apart from the others because it is small and compresses better at
    /// higher levels for little time. Default <see cref="SegmentFormat.AttrsZstdLevel"/>.</summary>
    public int AttrsZstdLevel { get; init; } = SegmentFormat.AttrsZstdLevel;

    /// <summary>zstd level of the payloads file (inputs and outputs, most of a GenAI segment's bytes), apart from the
    /// others because its cost and gain differ. Default <see cref="SegmentFormat.PayloadsZstdLevel"/>.</summary>
    public int PayloadsZstdLevel { get; init; } = SegmentFormat.PayloadsZstdLevel;

    /// <summary>The zstd level this writer uses for the segment file named <paramref name="file"/>.</summary>
    internal int ZstdLevelOf(string file) =>
        file switch
        {
            SegmentFormat.PayloadsFile => PayloadsZstdLevel,
            SegmentFormat.AttrsFile => AttrsZstdLevel,
            SegmentFormat.TracesFile => TracesZstdLevel,
            _ => ZstdLevel,
        };

    /// <summary>Whether the files of sealed segments carry Parquet bloom filters (DuckDB writes them for
    /// dictionary-encoded columns; a reader skips row groups by them on equality filters, e.g. a span name or model).
    /// Default true: without them one measurement sealed 1.07x (small) and 1.16x (genai) the spans per CPU-second,
    /// within this machine's noise and at the cost of that pruning.</summary>
    public bool BloomFilters { get; init; } = true;

    public SegmentWriterOptions Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ZstdLevel, 1, nameof(ZstdLevel));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ZstdLevel, 22, nameof(ZstdLevel));
        ArgumentOutOfRangeException.ThrowIfLessThan(TracesZstdLevel, 1, nameof(TracesZstdLevel));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(TracesZstdLevel, 22, nameof(TracesZstdLevel));
        ArgumentOutOfRangeException.ThrowIfLessThan(AttrsZstdLevel, 1, nameof(AttrsZstdLevel));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(AttrsZstdLevel, 22, nameof(AttrsZstdLevel));
        ArgumentOutOfRangeException.ThrowIfLessThan(PayloadsZstdLevel, 1, nameof(PayloadsZstdLevel));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(PayloadsZstdLevel, 22, nameof(PayloadsZstdLevel));
        ArgumentOutOfRangeException.ThrowIfLessThan(MemoryLimitBytes, 4L << 20, nameof(MemoryLimitBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(Threads, 1, nameof(Threads));
        ArgumentOutOfRangeException.ThrowIfLessThan(TextIndexBlockSpans, 1, nameof(TextIndexBlockSpans));
        return this;
    }
}
