using TraceStore.DuckDb;

namespace TraceStore.Engine.Segments;

/// <summary>
/// The sealed segment layout, version 2 (docs/segments.md gives the reasons; ../shared/reading/segment-layout.md the
/// measurements behind them). A segment is a folder <c>seg-&lt;seal sequence, 20 digits&gt;</c> of zstd Parquet files,
/// each carrying the key-value metadata <c>tracestore.segment.format = 2</c>:
/// <list type="bullet">
/// <item><c>spans.parquet</c>: one row per span without its payload, sorted by (trace_id, start_time_ns), so get-trace
/// reads one row group and span filters never touch prompts and completions.</item>
/// <item><c>payloads.parquet</c>: (trace_id, span_id, inputs, outputs and the attribute keys they came from), the
/// bulk of the bytes, same order, small row groups: only get-trace and full-text search read it.</item>
/// <item><c>traces.parquet</c>: one row per trace (MLflow's TraceInfo and what users filter on), sorted by request
/// time: trace-level search never reads spans.</item>
/// <item><c>attrs.parquet</c>: (key, value, span_row) for every span attribute except payloads, sorted by that: any
/// attribute is found by row-group pruning without declaring it. <c>span_row</c> is the span's row number in the
/// segment's spans file (0-based; DuckDB's <c>file_row_number</c>).</item>
/// <item><c>tag_changes.parquet</c>, only in segments written by compaction: the tag changes it folded into
/// <c>traces.parquet</c> (trace_id, key, value, deleted, change_seq), so they survive a later part of the trace whose
/// summary the sealer computes from spans alone (docs/segments.md, "Compaction").</item>
/// </list>
/// Ids are text: trace ids as MLflow's <c>tr-&lt;32 hex&gt;</c>, span ids as 16 lowercase hex.
/// <para>Version 1 differed only in attrs, which named spans by (trace_id, span_id) text: readers of the other files
/// read both; the compactor merges segments of the current version only.</para>
/// </summary>
public static class SegmentFormat
{
    public const int Version = 2;

    /// <summary>The oldest version this build reads (traces, spans and payloads are the same in 1 and 2).</summary>
    public const int OldestReadableVersion = 1;
    public const string VersionKey = "tracestore.segment.format";
    public const string SpansFile = "spans.parquet";
    public const string PayloadsFile = "payloads.parquet";
    public const string AttrsFile = "attrs.parquet";
    public const string TracesFile = "traces.parquet";
    public const string TagChangesFile = "tag_changes.parquet";

    /// <summary>Trace rows are small; 16K-row groups let a time-range search skip most of a segment.</summary>
    public const int TraceRowGroupRows = 16_384;

    /// <summary>Row groups of the spans file. A row group is what DuckDB's Parquet writer holds in memory before it
    /// writes it, so this bounds the writer's memory whatever the segment's size (at 122,880, DuckDB's default, a
    /// 64 MiB segment of small spans needed more than 64 MiB and spilled, sealing at 45K spans/s against 81K at 32,768;
    /// bench seal, 2026-11-21); smaller groups also keep a get-trace read small.</summary>
    public const int SpanRowGroupRows = 32_768;

    /// <summary>Row groups of the attrs file: DuckDB's writer holds one in memory, and attribute values can be long (at
    /// DuckDB's default of 122,880 rows, 500-byte values made a 61 MB row group).</summary>
    public const int AttrRowGroupRows = 32_768;

    /// <summary>
    /// Row groups of the payload file: DuckDB's minimum (its chunk, 2,048 rows), written by the sealer and by merges.
    /// DuckDB writes each column of a row group as one page. A Parquet reader holds the page it reads whole,
    /// decompressed, so a merge holds one such page per large column per input at once: at 8,192 GenAI payloads a
    /// page of prompts was 15 MB, and a 12-input merge's readers held 12 x 2 of them (docs/segments.md, "Where the
    /// memory goes"); at 2,048, 3.8 MB. The writer, too, allocates a row group's largest page whole, uncompressed and
    /// compressed, in allocations that cannot spill (8,192 GenAI payloads: 14-16 MiB each, which failed the sorting
    /// merge at 64 MiB). Smaller groups also make get-trace read less beyond its own trace; the GenAI payloads file
    /// was 0.1 % larger.
    /// </summary>
    public const int PayloadRowGroupRows = 2_048;

    public static string FolderName(long sealSequence) => $"seg-{sealSequence:D20}";

    public static bool TryParseFolderName(string name, out long sealSequence)
    {
        sealSequence = 0;
        return name.Length == 24 && name.StartsWith("seg-", StringComparison.Ordinal)
            && long.TryParse(name.AsSpan(4), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out sealSequence);
    }

    /// <summary>
    /// The query for every stored span of one trace (<c>$1</c> = its MLflow id) in one segment, with its payload.
    /// Columns, in order: 0 span_id, 1 parent_span_id, 2 name, 3 span_type, 4 kind, 5 start_time_ns, 6 end_time_ns,
    /// 7 status, 8 status_message, 9 model, 10 provider, 11 input_tokens, 12 output_tokens, 13 total_tokens,
    /// 14 service_name, 15 attributes, 16 events, 17 cache_read_input_tokens, 18 cache_creation_input_tokens,
    /// 19 session_id, 20 user_id, 21 inputs_key, 22 inputs, 23 outputs_key, 24 outputs.
    /// </summary>
    public static string SpansOfTraceSql(string segmentFolder) =>
        "SELECT s.span_id, s.parent_span_id, s.name, s.span_type, s.kind, s.start_time_ns, s.end_time_ns, s.status, s.status_message, " +
        "s.model, s.provider, s.input_tokens, s.output_tokens, s.total_tokens, s.service_name, s.attributes, s.events, " +
        "s.cache_read_input_tokens, s.cache_creation_input_tokens, s.session_id, s.user_id, p.inputs_key, p.inputs, p.outputs_key, p.outputs " +
        $"FROM (SELECT * FROM read_parquet({DuckDbSql.Literal(Path.Combine(segmentFolder, SpansFile))}) WHERE trace_id = $1) s " +
        $"LEFT JOIN (SELECT * FROM read_parquet({DuckDbSql.Literal(Path.Combine(segmentFolder, PayloadsFile))}) WHERE trace_id = $1) p ON p.span_id = s.span_id";

    /// <summary>The sort order of each file (the compactor keeps it when it merges segments).</summary>
    internal const string SpansOrder = "trace_id, start_time_ns, span_id";
    internal const string AttrsOrder = "key, value, span_row";
    internal const string TracesOrder = "request_time_ms, trace_id";

    /// <summary>The table functions through which the writer streams each file's rows, in the file's order
    /// (<see cref="SegmentFileFunction"/>), with each file's row-group size.</summary>
    internal static IReadOnlyList<(string File, string Function, int? RowGroupRows)> WrittenFiles { get; } =
    [
        (SpansFile, "segment_spans", SpanRowGroupRows),
        (PayloadsFile, "segment_payloads", PayloadRowGroupRows),
        (AttrsFile, "segment_attrs", AttrRowGroupRows),
        (TracesFile, "segment_traces", TraceRowGroupRows),
    ];

    /// <summary>COPY of rows already in the file's order (DuckDB keeps a single-threaded source's order when
    /// <c>preserve_insertion_order</c> is on) to <paramref name="path"/> as a segment file, with or without Parquet
    /// bloom filters (DuckDB writes them for dictionary-encoded columns; readers skip row groups by them on equality
    /// filters, and read files without them the same way, with min/max statistics only).</summary>
    internal static string CopyInOrder(string select, string path, int? rowGroupRows, int? zstdLevel = null, bool bloomFilters = true) =>
        $"COPY ({select}) TO {DuckDbSql.Literal(path)} {Options(rowGroupRows, zstdLevel ?? ZstdLevelOf(Path.GetFileName(path)), bloomFilters)}";

    /// <summary>COPY of <paramref name="select"/> sorted by <paramref name="order"/> to <paramref name="path"/> as a
    /// segment file: zstd Parquet with the format-version key.</summary>
    internal static string Copy(string select, string order, string path, int? rowGroupRows, int? zstdLevel = null) =>
        $"COPY ({select} ORDER BY {order}) TO {DuckDbSql.Literal(path)} {Options(rowGroupRows, zstdLevel ?? ZstdLevelOf(Path.GetFileName(path)))}";

    /// <summary>DuckDB's own default zstd level for Parquet.</summary>
    public const int DuckDbZstdLevel = 3;

    /// <summary>The zstd level of the spans file (and the text index and tag changes), unless
    /// <see cref="SegmentWriterOptions.ZstdLevel"/> says otherwise; compaction uses it. Levels are not part of the
    /// format: any level reads the same. 1 rather than DuckDB's 3: on this file of ids, numbers and short values level 1
    /// wrote fewer bytes in less time (small spans: 28.6 against 29.3 bytes per span; docs/segments.md, "Bytes on
    /// disk").</summary>
    public const int ZstdLevel = 1;

    /// <summary>The zstd level of <c>traces.parquet</c> unless <see cref="SegmentWriterOptions.TracesZstdLevel"/> says
    /// otherwise: its previews are text, which level 1 compresses worse.</summary>
    public const int TracesZstdLevel = 3;

    /// <summary>The zstd level of <c>attrs.parquet</c> unless <see cref="SegmentWriterOptions.AttrsZstdLevel"/> says
    /// otherwise: sorted keys, values and row numbers gain from a higher level (small spans: 8.9 bytes per span against
    /// 10.0 at level 3), and the file is written beside the larger spans file.</summary>
    public const int AttrsZstdLevel = 15;

    /// <summary>The zstd level of <c>payloads.parquet</c>, unless <see cref="SegmentWriterOptions.PayloadsZstdLevel"/>
    /// says otherwise; compaction uses it.</summary>
    public const int PayloadsZstdLevel = 3;

    private static readonly SegmentWriterOptions Defaults = new();

    /// <summary>The default zstd level of the segment file named <paramref name="file"/>.</summary>
    internal static int ZstdLevelOf(string file) => Defaults.ZstdLevelOf(file);

    /// <summary>zstd, and Parquet's version 2 data pages, whose DELTA encodings suit sorted integers (attrs' span_row:
    /// 13.1 -> 6.0 bytes per small span; spans 19.1 -> 17.7), which DuckDB and other current readers read.</summary>
    private static string Options(int? rowGroupRows, int zstdLevel, bool bloomFilters = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(zstdLevel, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(zstdLevel, 22);
        var level = zstdLevel == DuckDbZstdLevel ? "" : $", COMPRESSION_LEVEL {zstdLevel}";
        return $"(FORMAT parquet, COMPRESSION zstd{level}, PARQUET_VERSION V2{(rowGroupRows is { } rows ? $", ROW_GROUP_SIZE {rows}" : "")}" +
            $"{(bloomFilters ? "" : ", WRITE_BLOOM_FILTER false")}, KV_METADATA {{'{VersionKey}': '{Version}'}})";
    }
}
