using TraceStore.DuckDb.Native;

namespace TraceStore.DuckDb;

/// <summary>
/// DuckDB's row-at-a-time appender: one native call per value plus one per row. Kept as the measured baseline
/// for <see cref="DuckDbChunkAppender"/> and for small loads where simplicity wins. Values go in column order;
/// <see cref="EndRow"/> completes a row.
/// </summary>
internal sealed unsafe class DuckDbRowAppender : IDisposable
{
    private readonly DuckDbConnection _connection;
    private readonly AppenderHandle _appender;
    private readonly string _table;
    private bool _closed;

    internal DuckDbRowAppender(DuckDbConnection connection, string? schema, string table)
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
    }

    public void AppendNull() => Check(NativeMethods.Appender.AppendNull(Handle));

    public void Append(bool value) => Check(NativeMethods.Appender.AppendBool(Handle, value ? (byte)1 : (byte)0));

    public void Append(int value) => Check(NativeMethods.Appender.AppendInt32(Handle, value));

    public void Append(long value) => Check(NativeMethods.Appender.AppendInt64(Handle, value));

    public void Append(double value) => Check(NativeMethods.Appender.AppendDouble(Handle, value));

    public void AppendTimestampMicros(long microseconds) => Check(NativeMethods.Appender.AppendTimestamp(Handle, microseconds));

    public void AppendUtf8(ReadOnlySpan<byte> utf8)
    {
        fixed (byte* p = utf8)
        {
            Check(NativeMethods.Appender.AppendVarcharLength(Handle, p, (ulong)utf8.Length));
        }
    }

    public void AppendBlob(ReadOnlySpan<byte> data)
    {
        byte empty = 0;
        fixed (byte* p = data)
        {
            Check(NativeMethods.Appender.AppendBlob(Handle, p == null ? &empty : p, (ulong)data.Length));
        }
    }

    public void EndRow() => Check(NativeMethods.Appender.EndRow(Handle));

    public void Close()
    {
        if (_closed)
        {
            return;
        }

        _closed = true;
        Check(NativeMethods.Appender.Close(_appender));
    }

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
            _appender.Dispose();
        }
    }

    private AppenderHandle Handle
    {
        get
        {
            _connection.ThrowIfClosed();
            ObjectDisposedException.ThrowIf(_closed, this);
            return _appender;
        }
    }

    private void Check(DuckDbState state)
    {
        if (state != DuckDbState.Success)
        {
            var message = NativeMethods.ReadUtf8(NativeMethods.Appender.Error(_appender)) ?? "unknown error";
            throw new DuckDbException($"Appender on {_table}: {message}");
        }
    }
}
