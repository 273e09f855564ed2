using TraceStore.DuckDb;
using TraceStore.DuckDb.TableFunctions;

namespace TraceStore.Engine.Segments;

/// <summary><c>attrs.parquet</c>: one row per span attribute (payloads excluded), in (key, value, span_row) order
/// (<see cref="AttributeSorter"/>). A row names its span by <c>span_row</c>, the span's row number in the segment's
/// spans file (0-based, DuckDB's <c>file_row_number</c>), not by text ids: the ids were 97 % of this file's bytes and
/// half of its write time.</summary>
internal sealed class AttrsFile : SegmentFile
{
    public override IReadOnlyList<DuckDbColumn> Columns { get; } =
    [
        new("key", DuckDbLogicalType.Varchar), new("value", DuckDbLogicalType.Varchar), new("span_row", DuckDbLogicalType.Integer),
    ];

    public override int RowCount(SegmentRows rows) => rows.AttributeCount;

    public override void Prepare(SegmentRows rows) => rows.SortAttributes();

    public override void Write(SegmentRows rows, int first, int count, DuckDbTableOutput output)
    {
        var order = rows.Attributes.Slice(first, count);
        var traces = rows.Traces;
        var keys = output.Column(0);
        var values = output.Column(1);
        var spanRows = output.Column(2);
        for (var row = 0; row < order.Length; row++)
        {
            var at = order[row];
            var buffer = traces[at.Trace];
            var attribute = buffer.Attributes[at.Attribute];
            keys.SetUtf8InPlace(row, Stable(buffer.Bytes(attribute.Key)));
            values.SetUtf8InPlace(row, Stable(buffer.Bytes(attribute.Value)));
            spanRows.SetInt32(row, at.SpanRow);
        }
    }
}
