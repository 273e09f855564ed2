using TraceStore.DuckDb.Native;

namespace TraceStore.DuckDb;

/// <summary>
/// A DuckDB selection vector (row indexes into a vector) that C# fills through <see cref="Rows"/>: the rows
/// <see cref="TableFunctions.DuckDbTableOutput.CopyRows"/> copies. Owned: dispose it once no copy uses it.
/// </summary>
internal sealed unsafe class DuckDbSelection : IDisposable
{
    private nint _handle;
    private readonly uint* _rows;

    public DuckDbSelection(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        _handle = NativeMethods.Vectors.CreateSelection((ulong)capacity);
        if (_handle == 0)
        {
            throw new DuckDbException("DuckDB could not create a selection vector.");
        }

        _rows = NativeMethods.Vectors.SelectionData(_handle);
    }

    public int Capacity { get; }

    /// <summary>The selected row indexes, written by the caller before a copy.</summary>
    public Span<uint> Rows
    {
        get
        {
            ObjectDisposedException.ThrowIf(_handle == 0, this);
            return new Span<uint>(_rows, Capacity);
        }
    }

    internal nint Handle
    {
        get
        {
            ObjectDisposedException.ThrowIf(_handle == 0, this);
            return _handle;
        }
    }

    public void Dispose()
    {
        var handle = Interlocked.Exchange(ref _handle, 0);
        if (handle != 0)
        {
            NativeMethods.Vectors.DestroySelection(handle);
        }
    }
}
