using TraceStore.DuckDb;
using TraceStore.DuckDb.TableFunctions;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Traces;

namespace TraceStore.Engine.Segments;

/// <summary><c>traces.parquet</c>: one summary row per trace (<see cref="TraceSummary"/>), in (request_time_ms,
/// trace_id) order.</summary>
internal sealed class TracesFile : SegmentFile
{
    private static readonly DuckDbLogicalType Varchar = DuckDbLogicalType.Varchar;
    private static readonly DuckDbLogicalType BigInt = DuckDbLogicalType.BigInt;
    private static readonly DuckDbLogicalType Strings = DuckDbLogicalType.List(Varchar);
    private static readonly DuckDbLogicalType Map = DuckDbLogicalType.Map(Varchar, Varchar);

    public override IReadOnlyList<DuckDbColumn> Columns { get; } =
    [
        new("experiment_id", Varchar), new("trace_id", Varchar), new("seal_sequence", BigInt),
        new("request_time_ms", BigInt), new("execution_duration_ms", BigInt), new("state", Varchar),
        new("request_preview", Varchar), new("response_preview", Varchar), new("trace_name", Varchar), new("session_id", Varchar), new("user_id", Varchar),
        new("input_tokens", BigInt), new("output_tokens", BigInt), new("total_tokens", BigInt), new("cache_read_input_tokens", BigInt), new("cache_creation_input_tokens", BigInt),
        new("span_count", DuckDbLogicalType.Integer), new("error_span_count", DuckDbLogicalType.Integer),
        new("service_names", Strings), new("models", Strings), new("span_types", Strings), new("span_type_names", Strings),
        new("tags", Map), new("metadata", Map),
    ];

    public override int RowCount(SegmentRows rows) => rows.Traces.Count;

    public override void Prepare(SegmentRows rows) => rows.SortTraces();

    public override void Write(SegmentRows rows, int first, int count, DuckDbTableOutput output)
    {
        var order = rows.TraceOrder.Slice(first, count);
        Span<DuckDbVectorWriter> c = new DuckDbVectorWriter[Columns.Count];
        for (var i = 0; i < c.Length; i++)
        {
            c[i] = output.Column(i);
        }

        for (var row = 0; row < order.Length; row++)
        {
            var trace = order[row];
            var summary = rows.Summary(trace);
            c[0].SetUtf8InPlace(row, rows.Utf8(summary.ExperimentId));
            c[1].SetUtf8InPlace(row, rows.TraceId(trace));
            c[2].SetInt64(row, rows.SealSequence);
            c[3].SetInt64(row, summary.RequestTimeMs);
            SetOptional(c[4], row, summary.ExecutionDurationMs);
            c[5].SetUtf8InPlace(row, rows.Utf8(TraceInfoJson.StateName(summary.State)));
            SetOptional(c[6], row, rows, summary.RequestPreview);
            SetOptional(c[7], row, rows, summary.ResponsePreview);
            SetOptional(c[8], row, rows, summary.TraceName);
            SetOptional(c[9], row, rows, summary.SessionId);
            SetOptional(c[10], row, rows, summary.UserId);
            var usage = summary.TokenUsage;
            SetOptional(c[11], row, usage?.InputTokens);
            SetOptional(c[12], row, usage?.OutputTokens);
            SetOptional(c[13], row, usage?.TotalTokens);
            SetOptional(c[14], row, usage?.CacheReadInputTokens);
            SetOptional(c[15], row, usage?.CacheCreationInputTokens);
            c[16].SetInt32(row, summary.SpanCount);
            c[17].SetInt32(row, summary.ErrorSpanCount);
            SetList(c[18], row, rows, summary.ServiceNames);
            SetList(c[19], row, rows, summary.Models);
            SetList(c[20], row, rows, summary.SpanTypes);
            SetList(c[21], row, rows, SpanTypeNames(rows.Traces[trace]));
            SetMap(c[22], row, rows, summary.Tags);
            SetMap(c[23], row, rows, summary.Metadata);
        }
    }

    /// <summary>Distinct "TYPE:name" of the trace's spans, in ordinal order, so "a TOOL span named search_web" is
    /// answered from the trace row alone (segment-layout.md, Q4). In small traces pairs are compared as bytes first, so
    /// a string is made per distinct pair, not per span; large traces use a hash set of the strings.</summary>
    private static List<string> SpanTypeNames(TraceBuffer buffer)
    {
        const int LinearUpTo = 32;
        var spans = buffer.Spans;
        string Name(int i) => $"{buffer.GetString(spans[i].SpanType)}:{buffer.GetString(spans[i].Name)}";
        List<string> names;
        if (spans.Count > LinearUpTo)
        {
            var set = new HashSet<string>(StringComparer.Ordinal);
            for (var s = 0; s < spans.Count; s++)
            {
                set.Add(Name(s));
            }

            names = [.. set];
        }
        else
        {
            var distinct = new List<int>();
            for (var s = 0; s < spans.Count; s++)
            {
                if (!distinct.Exists(i => buffer.Bytes(spans[i].SpanType).SequenceEqual(buffer.Bytes(spans[s].SpanType))
                    && buffer.Bytes(spans[i].Name).SequenceEqual(buffer.Bytes(spans[s].Name))))
                {
                    distinct.Add(s);
                }
            }

            names = distinct.ConvertAll(Name);
        }

        names.Sort(StringComparer.Ordinal);
        return names;
    }

    private static void SetOptional(DuckDbVectorWriter column, int row, SegmentRows rows, string? value)
    {
        if (value is null)
        {
            column.SetNull(row);
        }
        else
        {
            column.SetUtf8InPlace(row, rows.Utf8(value));
        }
    }

    private static void SetOptional(DuckDbVectorWriter column, int row, long? value)
    {
        if (value is { } v)
        {
            column.SetInt64(row, v);
        }
        else
        {
            column.SetNull(row);
        }
    }

    private static void SetList(DuckDbVectorWriter column, int row, SegmentRows rows, IReadOnlyList<string> values)
    {
        var elements = column.BeginList(row, values.Count, out var at);
        foreach (var value in values)
        {
            elements.SetUtf8InPlace(at++, rows.Utf8(value));
        }
    }

    /// <summary>MAP entries in ordinal key order (the summaries' maps are sorted dictionaries already; others are
    /// sorted here).</summary>
    private static void SetMap(DuckDbVectorWriter column, int row, SegmentRows rows, IReadOnlyDictionary<string, string> map)
    {
        var entries = column.BeginList(row, map.Count, out var at);
        var keys = entries.GetField(0);
        var values = entries.GetField(1);
        IEnumerable<KeyValuePair<string, string>> ordered = map is SortedDictionary<string, string> sorted && ReferenceEquals(sorted.Comparer, StringComparer.Ordinal)
            ? sorted
            : map.OrderBy(e => e.Key, StringComparer.Ordinal);
        foreach (var (key, value) in ordered)
        {
            keys.SetUtf8InPlace(at, rows.Utf8(key));
            values.SetUtf8InPlace(at, rows.Utf8(value));
            at++;
        }
    }
}
