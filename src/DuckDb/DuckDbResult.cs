using TraceStore.DuckDb.Native;

namespace TraceStore.DuckDb;

/// <summary>
/// The result of one statement, read a chunk at a time with <see cref="NextChunk"/>. Results of prepared
/// statements stream: DuckDB produces each chunk on demand, and an error that happens mid-stream is thrown
/// from <see cref="NextChunk"/>. Dispose the result before the next statement on the same connection
/// finishes reading it (DuckDB allows one open streaming result per connection).
/// </summary>
internal sealed unsafe class DuckDbResult : IDisposable
{
    private readonly ResultHandle _handle;
    private readonly IDisposable? _owned;
    private bool _finished;

    internal DuckDbResult(ResultHandle handle, string sql, IDisposable? owned = null)
    {
        _handle = handle;
        _owned = owned;
        Sql = sql;
        var count = (int)NativeMethods.Query.ColumnCount(handle.Pointer);
        var columns = new DuckDbColumn[count];
        for (var i = 0; i < count; i++)
        {
            var name = NativeMethods.ReadUtf8(NativeMethods.Query.ColumnName(handle.Pointer, (ulong)i)) ?? "";
            using var type = LogicalTypeHandle.Own(NativeMethods.Query.ColumnLogicalType(handle.Pointer, (ulong)i));
            columns[i] = new DuckDbColumn(name, DuckDbLogicalType.FromNative(type.DangerousGetHandle()));
        }

        Columns = columns;
        RowsChanged = (long)NativeMethods.Query.RowsChanged(handle.Pointer);
    }

    public string Sql { get; }

    public IReadOnlyList<DuckDbColumn> Columns { get; }

    /// <summary>Rows inserted, updated or deleted by the statement (0 for queries).</summary>
    public long RowsChanged { get; }

    /// <summary>The next chunk, or null when the result is exhausted. The caller disposes the chunk.</summary>
    public DuckDbDataChunk? NextChunk()
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        if (_finished)
        {
            return null;
        }

        var chunk = NativeMethods.Query.FetchChunk(*_handle.Pointer);
        if (chunk == 0)
        {
            _finished = true;
            var error = NativeMethods.ReadUtf8(NativeMethods.Query.ResultError(_handle.Pointer));
            if (error is not null)
            {
                throw new DuckDbException(error, Sql, NativeMethods.Query.ResultErrorType(_handle.Pointer));
            }

            return null;
        }

        var owned = DataChunkHandle.Own(chunk);
        if (NativeMethods.DataChunks.GetSize(chunk) == 0)
        {
            owned.Dispose();
            _finished = true;
            return null;
        }

        return new DuckDbDataChunk(owned, Columns);
    }

    /// <summary>Reads every remaining row as CLR values (see <see cref="DuckDbVector.GetValue"/>). For small results.</summary>
    public List<object?[]> ReadAllRows()
    {
        var rows = new List<object?[]>();
        while (NextChunk() is { } chunk)
        {
            using (chunk)
            {
                var vectors = new DuckDbVector[chunk.ColumnCount];
                for (var c = 0; c < vectors.Length; c++)
                {
                    vectors[c] = chunk[c];
                }

                for (var r = 0; r < chunk.RowCount; r++)
                {
                    var row = new object?[vectors.Length];
                    for (var c = 0; c < vectors.Length; c++)
                    {
                        row[c] = vectors[c].GetValue(r);
                    }

                    rows.Add(row);
                }
            }
        }

        return rows;
    }

    public void Dispose()
    {
        _handle.Dispose();
        _owned?.Dispose();
    }
}
