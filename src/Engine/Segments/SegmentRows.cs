using System.Runtime.InteropServices;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Traces;

namespace TraceStore.Engine.Segments;

/// <summary>A span of a segment: trace <see cref="Trace"/> of the batch, span <see cref="Span"/> of its buffer.</summary>
internal readonly record struct SpanRow(int Trace, int Span);

/// <summary>An attrs row: attribute <see cref="Attribute"/> (index into the buffer's attribute list) of trace
/// <see cref="Trace"/>, whose span is row <see cref="SpanRow"/> of the spans file.</summary>
internal readonly record struct AttributeRow(int Trace, int Attribute, int SpanRow);

/// <summary>
/// The rows of one segment in the order of each file (<see cref="SegmentFormat"/>), sorted here in C# so DuckDB only
/// streams them into Parquet: no staging tables, no sort inside DuckDB (which materialised every row, nested columns
/// included, and needed several times the segment's size in memory). Sort keys compare exactly as DuckDB compares the
/// stored text: ids as fixed-width lowercase hex sort like their unsigned values, and VARCHARs compare as bytes.
/// <para>Reusable: <see cref="Reset"/> fills it for the next segment, keeping the arrays it grew.</para>
/// </summary>
internal sealed class SegmentRows
{
    private readonly AttributeSorter _attributes = new();
    private readonly PinnedText _text = new();
    private SpanRow[] _spans = [];
    private SpanRow[] _payloads = [];
    private int[] _traceOrder = [];
    private TraceSummary[] _summaries = [];
    private byte[] _traceIds = [];
    private byte[] _spanIds = [];
    private byte[] _parentIds = [];
    private int[] _firstSpan = [];
    private ArraySegment<byte>[] _experiments = [];
    private SpanKey[] _keys = [];
    private bool _attributesSorted;
    private bool _tracesSorted;

    public IReadOnlyList<TraceBuffer> Traces { get; private set; } = [];

    public long SealSequence { get; private set; }

    public int SpanCount { get; private set; }

    public int PayloadCount { get; private set; }

    public int AttributeCount => AttributesSorted().Count;

    /// <summary>Spans sorted by (trace_id, start_time_ns, span_id): the spans file.</summary>
    public ReadOnlySpan<SpanRow> Spans => _spans.AsSpan(0, SpanCount);

    /// <summary>The spans with inputs or outputs, in the same order: the payloads file.</summary>
    public ReadOnlySpan<SpanRow> Payloads => _payloads.AsSpan(0, PayloadCount);

    /// <summary>Attributes (payloads excluded) sorted by (key, value, span_row): the attrs file.</summary>
    /// <remarks>Only after <see cref="SortAttributes"/>.</remarks>
    public ReadOnlySpan<AttributeRow> Attributes => AttributesSorted().Rows;

    /// <summary>Trace indexes sorted by (request_time_ms, trace_id): the traces file.</summary>
    /// <remarks>Only after <see cref="SortTraces"/>.</remarks>
    public ReadOnlySpan<int> TraceOrder => _tracesSorted
        ? _traceOrder.AsSpan(0, Traces.Count)
        : throw new InvalidOperationException("The traces are not sorted yet (SortTraces).");

    public TraceSummary Summary(int trace) => _summaries[trace];

    /// <summary>The experiment id of trace <paramref name="trace"/> as UTF-8 (pinned, one copy per run of traces of the
    /// same experiment).</summary>
    public ReadOnlySpan<byte> ExperimentId(int trace) => _experiments[trace];

    /// <summary>UTF-8 of <paramref name="text"/> in pinned memory, valid for this segment's write (DuckDB reads it in
    /// place).</summary>
    public ReadOnlySpan<byte> Utf8(string text) => _text.Utf8(text);

    /// <summary>MLflow's id of trace <paramref name="trace"/> as UTF-8: <c>tr-</c> and 32 lowercase hex digits. The id
    /// texts live in pinned arrays: DuckDB may read them in place (<c>SetUtf8InPlace</c>) while a segment is written.</summary>
    public ReadOnlySpan<byte> TraceId(int trace) => _traceIds.AsSpan(trace * SegmentIds.TraceIdLength, SegmentIds.TraceIdLength);

    /// <summary>The span's id as 16 lowercase hex digits (pinned, like <see cref="TraceId"/>).</summary>
    public ReadOnlySpan<byte> SpanId(SpanRow span) => _spanIds.AsSpan((_firstSpan[span.Trace] + span.Span) * SegmentIds.SpanIdLength, SegmentIds.SpanIdLength);

    /// <summary>The span's parent id as 16 lowercase hex digits (pinned; meaningless for a root).</summary>
    public ReadOnlySpan<byte> ParentId(SpanRow span) => _parentIds.AsSpan((_firstSpan[span.Trace] + span.Span) * SegmentIds.SpanIdLength, SegmentIds.SpanIdLength);

    /// <summary>Orders the spans (and payloads) of <paramref name="traces"/>, each with its summary in
    /// <paramref name="summaries"/> (same order), or the summary of its own spans when null. The attrs and traces files'
    /// orders come later, from <see cref="SortAttributes"/> and <see cref="SortTraces"/>: the writer runs them on the
    /// thread that writes that file, at the same time as the spans file's COPY, rather than before every COPY.</summary>
    public void Reset(IReadOnlyList<TraceBuffer> traces, IReadOnlyList<TraceSummary>? summaries, long sealSequence)
    {
        Traces = traces;
        SealSequence = sealSequence;
        var spanCount = 0;
        foreach (var trace in traces)
        {
            spanCount += trace.Spans.Count;
        }

        SpanCount = spanCount;
        Grow(ref _spans, spanCount);
        Grow(ref _payloads, spanCount);
        Grow(ref _keys, spanCount);
        Grow(ref _traceOrder, traces.Count);
        Grow(ref _summaries, traces.Count);
        Grow(ref _firstSpan, traces.Count);
        Grow(ref _experiments, traces.Count);
        GrowPinned(ref _traceIds, traces.Count * SegmentIds.TraceIdLength);
        GrowPinned(ref _spanIds, spanCount * SegmentIds.SpanIdLength);
        GrowPinned(ref _parentIds, spanCount * SegmentIds.SpanIdLength);
        var first = 0;
        for (var t = 0; t < traces.Count; t++)
        {
            SegmentIds.FormatTraceId(traces[t].Key.TraceId, _traceIds.AsSpan(t * SegmentIds.TraceIdLength, SegmentIds.TraceIdLength));
            _firstSpan[t] = first;
            _experiments[t] = t > 0 && traces[t - 1].Key.ExperimentId == traces[t].Key.ExperimentId
                ? _experiments[t - 1]
                : _text.Utf8(traces[t].Key.ExperimentId);

            foreach (ref readonly var span in traces[t].Spans.AsSpan())
            {
                SegmentIds.FormatSpanId(span.SpanId, _spanIds.AsSpan(first * SegmentIds.SpanIdLength, SegmentIds.SpanIdLength));
                SegmentIds.FormatSpanId(span.ParentSpanId, _parentIds.AsSpan(first * SegmentIds.SpanIdLength, SegmentIds.SpanIdLength));
                first++;
            }

            _summaries[t] = summaries?[t] ?? TraceSummaryBuilder.Build(traces[t]);
        }

        _attributesSorted = false;
        _tracesSorted = false;
        SortSpans(traces);
    }

    /// <summary>Puts the attributes in the attrs file's order (<see cref="Attributes"/>); once per <see cref="Reset"/>,
    /// later calls do nothing. Reads only what <see cref="Reset"/> left, so it may run on another thread while the spans
    /// and payloads files are written, but not at the same time as <see cref="Reset"/>, <see cref="Clear"/> or itself.</summary>
    public void SortAttributes()
    {
        if (!_attributesSorted)
        {
            _attributes.Sort(this);
            _attributesSorted = true;
        }
    }

    /// <summary>Puts the traces in the traces file's order (<see cref="TraceOrder"/>); once per <see cref="Reset"/>.
    /// Same threading contract as <see cref="SortAttributes"/>.</summary>
    public void SortTraces()
    {
        if (!_tracesSorted)
        {
            SortTraceOrder();
            _tracesSorted = true;
        }
    }

    /// <summary>Lets go of the traces (the buffers go back to the assembler's budget once committed).</summary>
    public void Clear()
    {
        Traces = [];
        Array.Clear(_summaries);
        Array.Clear(_experiments);
        _attributes.Clear();
        _attributesSorted = false;
        _tracesSorted = false;
        _text.Clear();
    }

    /// <summary>The inputs and outputs are the values of attributes (the copier points at them): those attributes live
    /// in the payload file, not beside the light span columns.</summary>
    public static bool IsPayload(in StoredSpan span, in StoredKeyValue attribute) =>
        (!span.Inputs.IsEmpty && attribute.Value == span.Inputs) || (!span.Outputs.IsEmpty && attribute.Value == span.Outputs);

    private void SortSpans(IReadOnlyList<TraceBuffer> traces)
    {
        var keys = _keys.AsSpan(0, SpanCount);
        var at = 0;
        for (var t = 0; t < traces.Count; t++)
        {
            var id = traces[t].Key.TraceId;
            var spans = traces[t].Spans.AsSpan();
            for (var s = 0; s < spans.Length; s++)
            {
                keys[at++] = new SpanKey(id.High, id.Low, (long)spans[s].StartTimeUnixNano, spans[s].SpanId.Value, t, s);
            }
        }

        keys.Sort(static (a, b) => a.CompareTo(b));
        PayloadCount = 0;
        for (var i = 0; i < keys.Length; i++)
        {
            var row = new SpanRow(keys[i].Trace, keys[i].Span);
            _spans[i] = row;
            ref readonly var span = ref traces[row.Trace].Spans[row.Span];
            if (!span.Inputs.IsEmpty || !span.Outputs.IsEmpty)
            {
                _payloads[PayloadCount++] = row;
            }
        }
    }

    private AttributeSorter AttributesSorted() => _attributesSorted
        ? _attributes
        : throw new InvalidOperationException("The attributes are not sorted yet (SortAttributes).");

    private void SortTraceOrder()
    {
        var order = _traceOrder.AsSpan(0, Traces.Count);
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        order.Sort((a, b) =>
        {
            var byTime = _summaries[a].RequestTimeMs.CompareTo(_summaries[b].RequestTimeMs);
            return byTime != 0 ? byTime : TraceId(a).SequenceCompareTo(TraceId(b));
        });
    }

    /// <summary>Makes <paramref name="array"/> at least <paramref name="length"/> long; its contents are not kept.</summary>
    private static void Grow<T>(ref T[] array, int length)
    {
        if (array.Length < length)
        {
            array = new T[Math.Max(length, array.Length * 2)];
        }
    }

    /// <summary>Like <see cref="Grow{T}"/>, on the pinned object heap (the arrays are read in place by native code).</summary>
    private static void GrowPinned(ref byte[] array, int length)
    {
        if (array.Length < length)
        {
            array = GC.AllocateUninitializedArray<byte>(Math.Max(length, array.Length * 2), pinned: true);
        }
    }

    /// <summary>The spans file's sort key; (High, Low) and the span id compare as unsigned numbers, which is the order of
    /// their fixed-width hex text; start time as the signed BIGINT the file stores.</summary>
    [StructLayout(LayoutKind.Auto)]
    private readonly record struct SpanKey(ulong High, ulong Low, long Start, ulong SpanId, int Trace, int Span)
    {
        public int CompareTo(in SpanKey other)
        {
            var c = High.CompareTo(other.High);
            if (c == 0)
            {
                c = Low.CompareTo(other.Low);
            }

            if (c == 0)
            {
                c = Start.CompareTo(other.Start);
            }

            return c != 0 ? c : SpanId.CompareTo(other.SpanId);
        }
    }
}
