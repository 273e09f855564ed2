using TraceStore.DuckDb;
using TraceStore.DuckDb.TableFunctions;

namespace TraceStore.Engine.Segments;

/// <summary>
/// The merged spans file: the inputs' spans in <see cref="SegmentFormat.SpansOrder"/> (trace_id, start_time_ns,
/// span_id), each span once (<see cref="FirstCopies"/>), deleted traces left out. Records each input span's row in the
/// merged file (<see cref="MergedRows"/>, -1 for a span left out), which the attrs merge's <c>span_row</c> needs.
/// </summary>
internal sealed class SpansMerge : SortedMerge
{
    private readonly RowSet[] _repeated;
    private readonly TraceIdSet _deleted;
    private readonly List<int>[] _mergedRows;

    public SpansMerge(IReadOnlyList<MergeInput> inputs, FirstCopies copies, TraceIdSet deleted)
        : base(inputs)
    {
        _repeated = [.. inputs.Select(input => copies.Of(input.Rank))];
        _deleted = deleted;
        _mergedRows = [.. inputs.Select(_ => new List<int>())];
    }

    /// <summary>Input names: (trace_id, start_time_ns, span_id), the keys the inputs are opened with.</summary>
    public static string[] Keys => ["trace_id", "start_time_ns", "span_id"];

    /// <summary>Per input (by rank), each of its spans' row in the merged file, -1 for those left out; complete once
    /// the merge was read to its end.</summary>
    public int[][] MergedRows => [.. _mergedRows.Select(rows => rows.ToArray())];

    protected override int CompareKeys(MergeInput a, MergeInput b)
    {
        var order = MergeInput.CompareText(a.Key(0), a.Row, b.Key(0), b.Row);
        if (order != 0)
        {
            return order;
        }

        order = a.Key(1).GetInt64(a.Row).CompareTo(b.Key(1).GetInt64(b.Row));
        return order != 0 ? order : MergeInput.CompareText(a.Key(2), a.Row, b.Key(2), b.Row);
    }

    protected override bool Keep(MergeInput input, long mergedRow, int chunkRow)
    {
        var rows = _mergedRows[input.Rank];
        if (rows.Count != input.FileRow)
        {
            throw new InvalidOperationException($"The spans merge read row {input.FileRow} of input {input.Rank} out of order.");
        }

        var keep = !_repeated[input.Rank].Contains(input.FileRow) && !_deleted.Contains(input.Key(0).GetBytes(input.Row));
        rows.Add(keep ? checked((int)mergedRow) : -1);
        return keep;
    }
}

/// <summary>
/// The merged payloads file: each (trace_id, span_id)'s payload once, from the earliest input that has one
/// (<see cref="FirstCopies"/> over the payloads files), deleted traces left out, sorted by trace id. Within a trace,
/// rows come input by input in rank order, each input's in its own order: the inputs are sorted by trace id, but
/// not all the same way within a trace (the sealer writes the spans file's order, which this file cannot compare as it
/// has no start times; merges before the k-way merge wrote span id order), and ordering a trace's payloads would mean
/// holding them all. Readers need only the trace-id order (row-group pruning; a trace's payloads are joined by span
/// id).
/// </summary>
internal sealed class PayloadsMerge(IReadOnlyList<MergeInput> inputs, FirstCopies copies, TraceIdSet deleted) : SortedMerge(inputs)
{
    private readonly RowSet[] _repeated = [.. inputs.Select(input => copies.Of(input.Rank))];

    public static string[] Keys => ["trace_id"];

    protected override int CompareKeys(MergeInput a, MergeInput b) => MergeInput.CompareText(a.Key(0), a.Row, b.Key(0), b.Row);

    protected override bool Keep(MergeInput input, long mergedRow, int chunkRow) =>
        !_repeated[input.Rank].Contains(input.FileRow) && !deleted.Contains(input.Key(0).GetBytes(input.Row));
}

/// <summary>
/// The merged attrs file: each input attribute whose span was kept, with <c>span_row</c> that span's row in the merged
/// spans file, in <see cref="SegmentFormat.AttrsOrder"/> (key, value, span_row). An input's attrs stay in that order
/// after renumbering: the merged spans keep each input's kept spans in their relative order (both are sorted by
/// <see cref="SegmentFormat.SpansOrder"/>), so the renumbering is increasing within an input. An attribute of a span
/// left out (a later copy, or a deleted trace) is left out too: the kept copy's attributes come from its own input.
/// </summary>
internal sealed class AttrsMerge : SortedMerge
{
    /// <summary>The span_row column (position in the file), written from <see cref="_spanRows"/>.</summary>
    private const int SpanRowColumn = 2;

    private readonly int[][] _mergedSpanRows;
    private readonly int[] _spanRows = new int[DuckDbTableOutput.Capacity];

    /// <param name="mergedSpanRows">Per input (by rank), each of its spans' row in the merged spans file, -1 for those
    /// left out (<see cref="SpansMerge.MergedRows"/>).</param>
    public AttrsMerge(IReadOnlyList<MergeInput> inputs, int[][] mergedSpanRows)
        : base(inputs)
    {
        if (Columns.Count != 3 || Columns[SpanRowColumn].Name != "span_row" || !Columns[SpanRowColumn].Type.Equals(DuckDbLogicalType.Integer))
        {
            throw new InvalidDataException("An attrs file's columns are (key, value, span_row INTEGER).");
        }

        _mergedSpanRows = mergedSpanRows;
    }

    public static string[] Keys => ["key", "value", "span_row"];

    protected override int CompareKeys(MergeInput a, MergeInput b)
    {
        var order = MergeInput.CompareText(a.Key(0), a.Row, b.Key(0), b.Row);
        if (order != 0)
        {
            return order;
        }

        order = MergeInput.CompareText(a.Key(1), a.Row, b.Key(1), b.Row);
        return order != 0 ? order : MergedRow(a).CompareTo(MergedRow(b));
    }

    protected override bool Keep(MergeInput input, long mergedRow, int chunkRow)
    {
        var row = MergedRow(input);
        _spanRows[chunkRow] = row;
        return row >= 0;
    }

    protected override bool IsComputed(int column) => column == SpanRowColumn;

    protected override void WriteComputed(DuckDbTableOutput output, int rows)
    {
        var spanRows = output.Column(SpanRowColumn);
        for (var row = 0; row < rows; row++)
        {
            spanRows.SetInt32(row, _spanRows[row]);
        }
    }

    /// <summary>The current attribute's span's row in the merged spans file; -1 when that span was left out.</summary>
    private int MergedRow(MergeInput input)
    {
        var rows = _mergedSpanRows[input.Rank];
        var spanRow = input.Key(2).GetInt32(input.Row);
        return (uint)spanRow < (uint)rows.Length
            ? rows[spanRow]
            : throw new InvalidDataException($"An attribute of input {input.Rank} names span row {spanRow}; its spans file has {rows.Length} rows.");
    }
}

/// <summary>
/// The merged traces file: each kept trace's latest summary (the row of the input with the highest seal sequence,
/// <see cref="LatestSummaries"/>), deleted traces left out, in <see cref="SegmentFormat.TracesOrder"/>
/// (request_time_ms, trace_id), which every input is sorted by. With <paramref name="folds"/>, the <c>tags</c> map of
/// each changed trace is rewritten (<see cref="TagFolds.Apply"/>): the row is copied like any other, then its map is
/// pointed at new entries appended to the column's child vector.
/// </summary>
internal sealed class TracesMerge(IReadOnlyList<MergeInput> inputs, LatestSummaries latest, TraceIdSet deleted, TagFolds? folds = null) : SortedMerge(inputs)
{
    private readonly RowSet[] _latest = [.. inputs.Select(input => latest.Of(input.Rank))];
    private readonly int _tagsColumn = inputs[0].Columns.ToList().FindIndex(column => column.Name == "tags");
    private readonly List<(int ChunkRow, List<(byte[] Key, byte[]? Value)> Tags)> _rewrites = [];

    /// <summary>Input names: (request_time_ms, trace_id), the sort key, and tags, which a fold reads.</summary>
    public static string[] Keys => ["request_time_ms", "trace_id", "tags"];

    protected override int CompareKeys(MergeInput a, MergeInput b)
    {
        var order = a.Key(0).GetInt64(a.Row).CompareTo(b.Key(0).GetInt64(b.Row));
        return order != 0 ? order : MergeInput.CompareText(a.Key(1), a.Row, b.Key(1), b.Row);
    }

    protected override bool Keep(MergeInput input, long mergedRow, int chunkRow)
    {
        var traceId = input.Key(1).GetBytes(input.Row);
        if (!_latest[input.Rank].Contains(input.FileRow) || deleted.Contains(traceId))
        {
            return false;
        }

        if (folds?.Apply(traceId, input.Key(2), input.Row) is { } tags)
        {
            _rewrites.Add((chunkRow, tags));
        }

        return true;
    }

    /// <summary>Points the rewritten rows' <c>tags</c> at their folded maps (their copied entries stay in the child
    /// vector, unreferenced).</summary>
    protected override void WriteComputed(DuckDbTableOutput output, int rows)
    {
        if (_rewrites.Count == 0)
        {
            return;
        }

        var column = output.Column(_tagsColumn);
        var entries = column.AppendListChildren(_rewrites.Sum(rewrite => rewrite.Tags.Count), out var at);
        var keys = entries.GetField(0);
        var values = entries.GetField(1);
        foreach (var (row, tags) in _rewrites)
        {
            column.SetValid(row);
            column.SetListEntry(row, at, tags.Count);
            foreach (var (key, value) in tags)
            {
                keys.SetUtf8(at, key);
                if (value is null)
                {
                    values.SetNull(at);
                }
                else
                {
                    values.SetUtf8(at, value);
                }

                at++;
            }
        }

        _rewrites.Clear();
    }
}

/// <summary>Which row of the traces files holds each trace's latest summary (highest seal sequence): a window over
/// (trace_id, seal_sequence) only, one narrow row per trace part.</summary>
internal sealed class LatestSummaries
{
    private readonly long[][] _rows;

    private LatestSummaries(long[][] rows) => _rows = rows;

    public static LatestSummaries Find(DuckDbDatabase database, IReadOnlyList<string> files)
    {
        var list = "[" + string.Join(", ", files.Select(DuckDbSql.Literal)) + "]";
        using var connection = database.Connect();
        using var result = connection.Query(
            $"SELECT CAST(list_position({list}, filename) - 1 AS INTEGER), file_row_number FROM (" +
            $"SELECT trace_id, seal_sequence, filename, file_row_number FROM read_parquet({list}, filename = true, file_row_number = true) " +
            "QUALIFY row_number() OVER (PARTITION BY trace_id ORDER BY seal_sequence DESC) = 1) ORDER BY 1, 2");
        var rows = files.Select(_ => new List<long>()).ToArray();
        foreach (var row in result.ReadAllRows())
        {
            rows[(int)row[0]!].Add((long)row[1]!);
        }

        return new LatestSummaries([.. rows.Select(r => r.ToArray())]);
    }

    /// <summary>The latest summaries' rows in input <paramref name="rank"/>, asked about in ascending row order.</summary>
    public RowSet Of(int rank) => new(_rows[rank]);
}
