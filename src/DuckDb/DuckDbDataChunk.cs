using TraceStore.DuckDb.Native;

namespace TraceStore.DuckDb;

/// <summary>One chunk of a result (at most 2048 rows), owned by the caller. Vectors taken from it
/// are valid until it is disposed.</summary>
internal sealed class DuckDbDataChunk : IDisposable
{
    private readonly DataChunkHandle _handle;
    private readonly IReadOnlyList<DuckDbColumn> _columns;

    internal DuckDbDataChunk(DataChunkHandle handle, IReadOnlyList<DuckDbColumn> columns)
    {
        _handle = handle;
        _columns = columns;
        RowCount = checked((int)NativeMethods.DataChunks.GetSize(handle.DangerousGetHandle()));
    }

    public int RowCount { get; }

    public int ColumnCount => _columns.Count;

    public DuckDbVector this[int column]
    {
        get
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            ArgumentOutOfRangeException.ThrowIfNegative(column);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(column, _columns.Count);
            var vector = NativeMethods.DataChunks.GetVector(_handle.DangerousGetHandle(), (ulong)column);
            return new DuckDbVector(vector, _columns[column].Type, RowCount);
        }
    }

    /// <summary>The native vector of <paramref name="column"/>, valid while this chunk lives.</summary>
    internal nint VectorHandle(int column)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(column);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(column, _columns.Count);
        return NativeMethods.DataChunks.GetVector(_handle.DangerousGetHandle(), (ulong)column);
    }

    public void Dispose() => _handle.Dispose();
}
