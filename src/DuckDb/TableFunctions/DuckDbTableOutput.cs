using TraceStore.DuckDb.Native;

namespace TraceStore.DuckDb.TableFunctions;

/// <summary>The output chunk of one table-function call: one writer per projected column.</summary>
internal readonly struct DuckDbTableOutput
{
    private readonly nint _chunk;
    private readonly IReadOnlyList<DuckDbColumn> _columns;

    internal DuckDbTableOutput(nint chunk, IReadOnlyList<DuckDbColumn> columns, IReadOnlyList<int> projection)
    {
        _chunk = chunk;
        _columns = columns;
        Projection = projection;
    }

    public static int Capacity => DuckDbDatabase.VectorSize;

    /// <summary>For each output column, the index of the function's column it holds.</summary>
    public IReadOnlyList<int> Projection { get; }

    /// <summary>Writer for output column <paramref name="outputIndex"/> (which holds column <c>Projection[outputIndex]</c>).</summary>
    public DuckDbVectorWriter Column(int outputIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(outputIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(outputIndex, Projection.Count);
        var vector = NativeMethods.DataChunks.GetVector(_chunk, (ulong)outputIndex);
        return new DuckDbVectorWriter(vector, _columns[Projection[outputIndex]].Type, Capacity);
    }

    /// <summary>Copies rows <c>selection.Rows[0 .. count)</c> of <paramref name="source"/>'s column
    /// <paramref name="sourceColumn"/> into output column <paramref name="outputIndex"/> from row
    /// <paramref name="targetRow"/> on (<c>duckdb_vector_copy_sel</c>: any type, strings into the output's heap, LIST and
    /// MAP children appended after those already written). The column types must be equal; the caller checks.</summary>
    public void CopyRows(int outputIndex, DuckDbDataChunk source, int sourceColumn, DuckDbSelection selection, int count, int targetRow)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(outputIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(outputIndex, Projection.Count);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, selection.Capacity);
        ArgumentOutOfRangeException.ThrowIfNegative(targetRow);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(targetRow + count, Capacity);
        var target = NativeMethods.DataChunks.GetVector(_chunk, (ulong)outputIndex);
        NativeMethods.Vectors.CopySelection(source.VectorHandle(sourceColumn), target, selection.Handle, (ulong)count, 0, (ulong)targetRow);
    }
}
