using TraceStore.DuckDb;

namespace TraceStore.Engine.Segments;

/// <summary>
/// The per-segment full-text index for <c>trace.text</c> / <c>span.content</c> (docs/text-search.md). Two files:
/// <list type="bullet">
/// <item><c>text.parquet</c>: (gram INTEGER, blocks BLOB), sorted by gram: for every trigram of the lower-cased span
/// text (<see cref="SpanTextSql"/>), a bitmap of the blocks of spans whose text holds it (bit <c>b</c> of byte
/// <c>b / 8</c>, least significant first). A gram is the three UTF-8 bytes big-endian in the low 24 bits.</item>
/// <item><c>text_blocks.parquet</c>: (block, first_span_row, last_span_row, first_payload_row, last_payload_row):
/// which rows of <c>spans.parquet</c> and of <c>payloads.parquet</c> a block covers (payload rows NULL when its
/// spans have none), so a search reads only the rows of candidate blocks.</item>
/// </list>
/// A block is <see cref="BlockSpans"/> consecutive rows of the spans file. The index is a filter: every trigram of
/// every span's lower-cased text is in it (it may hold a few more), so a span not in a candidate block cannot match a
/// pattern with a literal run of three bytes or more; candidates are verified with the exact LIKE/ILIKE.
/// Segments written before the index (no <c>text.parquet</c>) are searched by a full scan.
/// </summary>
public static class TextIndexFormat
{
    public const string GramsFile = "text.parquet";
    public const string BlocksFile = "text_blocks.parquet";

    /// <summary>Spans per block. Measured (docs/text-search.md): smaller blocks verify fewer rows for rare words but
    /// make every gram's bitmap longer (index bytes and the writer's memory grow as grams x blocks / 8).</summary>
    public const int BlockSpans = 16;

    /// <summary>Grams rows per row group: a search reads a handful of grams, and sorted grams prune by statistics.</summary>
    internal const int GramRowGroupRows = 16_384;

    /// <summary>
    /// The text a span is matched against, as SQL over a spans row <paramref name="s"/> and its payloads row
    /// <paramref name="p"/> (NULL when it has none): name, type, status, status message, each attribute as
    /// <c>key=value</c> (values in MLflow's stored JSON form), each event as <c>name=attributes JSON</c>, inputs and
    /// outputs, separated by line feeds (NULL parts empty). Not MLflow's span JSON byte for byte: see
    /// docs/text-search.md ("What a span is matched against").
    /// </summary>
    public static string SpanTextSql(string s, string p) => $"{LightTextSql(s)} || chr(10) || {PayloadTextSql(p)}";

    /// <summary>The part of <see cref="SpanTextSql"/> from the spans file; it always ends with its 5th line feed or
    /// after it.</summary>
    internal static string LightTextSql(string s) =>
        $"coalesce({s}.name, '') || chr(10) || coalesce({s}.span_type, '') || chr(10) || coalesce({s}.status, '') || chr(10) || " +
        $"coalesce({s}.status_message, '') || chr(10) || " +
        $"coalesce(array_to_string(list_transform(map_entries({s}.attributes), lambda e: e.key || '=' || coalesce(e.value, '')), chr(10)), '') || chr(10) || " +
        $"coalesce(array_to_string(list_transform({s}.events, lambda e: coalesce(e.name, '') || '=' || coalesce(e.attributes, '')), chr(10)), '')";

    /// <summary>The part of <see cref="SpanTextSql"/> from the payloads file (after the line feed that joins them).</summary>
    internal static string PayloadTextSql(string p) => $"coalesce({p}.inputs, '') || chr(10) || coalesce({p}.outputs, '')";

    /// <summary>The UTF-8 bytes b0 b1 b2 as a gram.</summary>
    public static int Gram(byte b0, byte b1, byte b2) => (b0 << 16) | (b1 << 8) | b2;

    /// <summary>Whether <paramref name="segmentFolder"/> has the index (segments written before it do not).</summary>
    public static bool HasIndex(string segmentFolder) =>
        File.Exists(Path.Combine(segmentFolder, GramsFile)) && File.Exists(Path.Combine(segmentFolder, BlocksFile));

    internal static string GramsPath(string segmentFolder) => DuckDbSql.Literal(Path.Combine(segmentFolder, GramsFile));

    internal static string BlocksPath(string segmentFolder) => DuckDbSql.Literal(Path.Combine(segmentFolder, BlocksFile));
}
