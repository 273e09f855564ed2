using TraceStore.DuckDb;
using TraceStore.DuckDb.TableFunctions;

namespace TraceStore.Engine.Segments;

/// <summary><c>attrs.parquet</c>: one row per span attribute (payloads excluded), in (key, value, trace_id, span_id)
/// order (<see cref="AttributeSorter"/>).</summary>
internal sealed class AttrsFile : SegmentFile
{
    public override IReadOnlyList<DuckDbColumn> Columns { get; } =
    [
        new("key", DuckDbLogicalType.Varchar), new("value", DuckDbLogicalType.Varchar),
        new("trace_id", DuckDbLogicalType.Varchar), new("span_id", DuckDbLogicalType.Varchar),
    ];

    public override int RowCount(SegmentRows rows) => rows.AttributeCount;

    public override void Write(SegmentRows rows, int first, int count, DuckDbTableOutput output)
    {
        var order = rows.Attributes.Slice(first, count);
        var traces = rows.Traces;
        var keys = output.Column(0);
        var values = output.Column(1);
        var traceIds = output.Column(2);
        var spanIds = output.Column(3);
        for (var row = 0; row < order.Length; row++)
        {
            var at = order[row];
            var buffer = traces[at.Trace];
            var attribute = buffer.Attributes[at.Attribute];
            keys.SetUtf8InPlace(row, buffer.Bytes(attribute.Key));
            values.SetUtf8InPlace(row, buffer.Bytes(attribute.Value));
            traceIds.SetUtf8InPlace(row, rows.TraceId(at.Trace));
            spanIds.SetUtf8InPlace(row, rows.SpanId(new SpanRow(at.Trace, at.Span)));
        }
    }
}
