using TraceStore.DuckDb.Native;

namespace TraceStore.DuckDb;

/// <summary>
/// Bulk append into a table through whole data chunks: values are written straight into vector memory
/// (no native call per value except strings longer than 12 bytes), and each full chunk of
/// <see cref="ChunkCapacity"/> rows goes to DuckDB in one <c>duckdb_append_data_chunk</c>.
/// <para>Use: <c>var row = appender.AddRow(); appender.Column(0).SetInt64(row, ...); ...</c> then
/// <see cref="Close"/>. Writers from <see cref="Column"/> are valid until the next <see cref="AddRow"/>.
/// Rows become visible to other connections when the appender flushes (a full chunk may be buffered inside
/// DuckDB until then). A failed append leaves the appender unusable; rows already flushed stay.</para>
/// </summary>
internal sealed class DuckDbChunkAppender : IDisposable
{
    private readonly DuckDbConnection _connection;
    private readonly AppenderHandle _appender;
    private readonly DataChunkHandle _chunk;
    private readonly DuckDbLogicalType[] _types;
    private readonly DuckDbVectorWriter[] _writers;
    private readonly string _table;
    private int _count;
    private long _flushedRows;
    private bool _closed;

    internal unsafe DuckDbChunkAppender(DuckDbConnection connection, string? schema, string table)
    {
        ArgumentException.ThrowIfNullOrEmpty(table);
        _connection = connection;
        _table = schema is null ? table : $"{schema}.{table}";
        if (NativeMethods.Appender.Create(connection.Handle, schema, table, out _appender) != DuckDbState.Success)
        {
            var message = NativeMethods.ReadUtf8(NativeMethods.Appender.Error(_appender)) ?? "unknown error";
            _appender.Dispose();
            throw new DuckDbException($"Could not open an appender on {_table}: {message}");
        }

        var columnCount = (int)NativeMethods.Appender.ColumnCount(_appender);
        _types = new DuckDbLogicalType[columnCount];
        var nativeTypes = new LogicalTypeHandle[columnCount];
        try
        {
            var pointers = stackalloc nint[columnCount];
            for (var i = 0; i < columnCount; i++)
            {
                nativeTypes[i] = LogicalTypeHandle.Own(NativeMethods.Appender.ColumnType(_appender, (ulong)i));
                pointers[i] = nativeTypes[i].DangerousGetHandle();
                _types[i] = DuckDbLogicalType.FromNative(pointers[i]);
            }

            _chunk = DataChunkHandle.Own(NativeMethods.DataChunks.Create(pointers, (ulong)columnCount));
        }
        finally
        {
            foreach (var type in nativeTypes)
            {
                type?.Dispose();
            }
        }

        _writers = new DuckDbVectorWriter[columnCount];
        RefreshWriters();
    }

    public IReadOnlyList<DuckDbLogicalType> ColumnTypes => _types;

    public static int ChunkCapacity => DuckDbDatabase.VectorSize;

    /// <summary>Rows added so far, flushed or not.</summary>
    public long RowCount => _flushedRows + _count;

    /// <summary>Adds a row to the current chunk (sending the chunk to DuckDB first if it is full) and returns its
    /// index in the chunk. Every column of the row must then be set, to a value or NULL.</summary>
    public int AddRow()
    {
        ThrowIfClosed();
        if (_count == ChunkCapacity)
        {
            AppendChunk();
        }

        return _count++;
    }

    /// <summary>The writer for a column of the current chunk.</summary>
    public DuckDbVectorWriter Column(int index) => _writers[index];

    /// <summary>Sends buffered rows to the table.</summary>
    public void Flush()
    {
        ThrowIfClosed();
        FlushCore();
    }

    /// <summary>Flushes and closes. Errors (a constraint violation, a type DuckDB cannot cast) are thrown here.</summary>
    public void Close()
    {
        if (_closed)
        {
            return;
        }

        _connection.ThrowIfClosed();
        try
        {
            FlushCore();
            if (NativeMethods.Appender.Close(_appender) != DuckDbState.Success)
            {
                throw Failure("close");
            }
        }
        finally
        {
            // A failed close leaves the appender unusable; Dispose must not try again.
            _closed = true;
        }
    }

    /// <summary>Closes if <see cref="Close"/> was not called (and throws as it would), then frees native memory.</summary>
    public void Dispose()
    {
        try
        {
            if (!_closed && !_connection.IsClosed)
            {
                Close();
            }
        }
        finally
        {
            _closed = true;
            _chunk.Dispose();
            _appender.Dispose();
        }
    }

    private void FlushCore()
    {
        AppendChunk();
        if (NativeMethods.Appender.Flush(_appender) != DuckDbState.Success)
        {
            throw Failure("flush");
        }
    }

    private void AppendChunk()
    {
        if (_count == 0)
        {
            return;
        }

        var chunk = _chunk.DangerousGetHandle();
        NativeMethods.DataChunks.SetSize(chunk, (ulong)_count);
        if (NativeMethods.Appender.AppendDataChunk(_appender, chunk) != DuckDbState.Success)
        {
            _closed = true;
            throw Failure("append a chunk to");
        }

        _flushedRows += _count;
        _count = 0;
        NativeMethods.DataChunks.Reset(chunk);
        RefreshWriters();
    }

    private void RefreshWriters()
    {
        var chunk = _chunk.DangerousGetHandle();
        for (var i = 0; i < _writers.Length; i++)
        {
            _writers[i] = new DuckDbVectorWriter(NativeMethods.DataChunks.GetVector(chunk, (ulong)i), _types[i], ChunkCapacity);
        }
    }

    private DuckDbException Failure(string action)
    {
        var message = NativeMethods.ReadUtf8(NativeMethods.Appender.Error(_appender)) ?? "unknown error";
        return new DuckDbException($"Appender could not {action} {_table}: {message}");
    }

    private void ThrowIfClosed()
    {
        _connection.ThrowIfClosed();
        ObjectDisposedException.ThrowIf(_closed, this);
    }
}
