using TraceStore.DuckDb;
using TraceStore.DuckDb.TableFunctions;
using TraceStore.Engine.Assembly;
using TraceStore.Protocol.Model;

namespace TraceStore.Engine.Segments;

/// <summary><c>payloads.parquet</c>: the inputs and outputs of the spans that have them (and the attribute each came
/// from), in the spans file's order.</summary>
internal sealed class PayloadsFile : SegmentFile
{
    public override IReadOnlyList<DuckDbColumn> Columns { get; } =
    [
        new("trace_id", DuckDbLogicalType.Varchar), new("span_id", DuckDbLogicalType.Varchar),
        new("inputs_key", DuckDbLogicalType.Varchar), new("inputs", DuckDbLogicalType.Varchar),
        new("outputs_key", DuckDbLogicalType.Varchar), new("outputs", DuckDbLogicalType.Varchar),
    ];

    public override int RowCount(SegmentRows rows) => rows.PayloadCount;

    public override void Write(SegmentRows rows, int first, int count, DuckDbTableOutput output)
    {
        var order = rows.Payloads.Slice(first, count);
        var traces = rows.Traces;
        var traceIds = output.Column(0);
        var spanIds = output.Column(1);
        var inputKeys = output.Column(2);
        var inputs = output.Column(3);
        var outputKeys = output.Column(4);
        var outputs = output.Column(5);
        for (var row = 0; row < order.Length; row++)
        {
            var at = order[row];
            var buffer = traces[at.Trace];
            ref readonly var span = ref buffer.Spans[at.Span];
            traceIds.SetUtf8InPlace(row, rows.TraceId(at.Trace));
            spanIds.SetUtf8InPlace(row, rows.SpanId(at));
            SetOptional(inputKeys, row, buffer.Bytes(KeyOf(buffer, span, span.Inputs)), !span.Inputs.IsEmpty);
            SetOptional(inputs, row, buffer.Bytes(span.Inputs), !span.Inputs.IsEmpty);
            SetOptional(outputKeys, row, buffer.Bytes(KeyOf(buffer, span, span.Outputs)), !span.Outputs.IsEmpty);
            SetOptional(outputs, row, buffer.Bytes(span.Outputs), !span.Outputs.IsEmpty);
        }
    }

    /// <summary>The key of the attribute whose value <paramref name="value"/> is (the copier points inputs and outputs
    /// at attribute values).</summary>
    private static ArenaSlice KeyOf(TraceBuffer buffer, in StoredSpan span, ArenaSlice value)
    {
        foreach (ref readonly var attribute in buffer.Attributes.Slice(span.Attributes))
        {
            if (attribute.Value == value)
            {
                return attribute.Key;
            }
        }

        return default;
    }
}
