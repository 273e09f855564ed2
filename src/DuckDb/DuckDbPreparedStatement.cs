using System.Buffers;
using System.Text;
using TraceStore.DuckDb.Native;

namespace TraceStore.DuckDb;

/// <summary>
/// A prepared statement with typed parameter binding. Parameters are numbered from 1, as <c>$1</c> in SQL.
/// Bindings persist across executions until rebound or <see cref="ClearBindings"/>. A value whose type does
/// not fit the parameter is cast by DuckDB at execution; a cast that fails throws a Conversion error then.
/// </summary>
internal sealed unsafe class DuckDbPreparedStatement : IDisposable
{
    private const int StackUtf8Limit = 512;

    private readonly DuckDbConnection _connection;
    private readonly PreparedStatementHandle _handle;

    internal DuckDbPreparedStatement(DuckDbConnection connection, PreparedStatementHandle handle, string sql)
    {
        _connection = connection;
        _handle = handle;
        Sql = sql;
        ParameterCount = (int)NativeMethods.PreparedStatements.ParameterCount(handle);
    }

    public string Sql { get; }

    public int ParameterCount { get; }

    public void BindNull(int index) => Check(index, NativeMethods.PreparedStatements.BindNull(Handle(index), (ulong)index), "NULL");

    public void Bind(int index, bool value) =>
        Check(index, NativeMethods.PreparedStatements.BindBoolean(Handle(index), (ulong)index, value ? (byte)1 : (byte)0), "BOOLEAN");

    public void Bind(int index, int value) =>
        Check(index, NativeMethods.PreparedStatements.BindInt32(Handle(index), (ulong)index, value), "INTEGER");

    public void Bind(int index, long value) =>
        Check(index, NativeMethods.PreparedStatements.BindInt64(Handle(index), (ulong)index, value), "BIGINT");

    public void Bind(int index, double value) =>
        Check(index, NativeMethods.PreparedStatements.BindDouble(Handle(index), (ulong)index, value), "DOUBLE");

    /// <summary>Binds a TIMESTAMP (microsecond precision; Local times are converted to UTC first).</summary>
    public void Bind(int index, DateTime value) => BindTimestampMicros(index, DuckDbTime.ToUnixMicros(value));

    public void BindTimestampMicros(int index, long microsecondsSinceEpoch) =>
        Check(index, NativeMethods.PreparedStatements.BindTimestamp(Handle(index), (ulong)index, microsecondsSinceEpoch), "TIMESTAMP");

    /// <summary>Binds VARCHAR; a null string binds NULL.</summary>
    public void Bind(int index, string? value)
    {
        if (value is null)
        {
            BindNull(index);
            return;
        }

        var max = Encoding.UTF8.GetMaxByteCount(value.Length);
        byte[]? rented = null;
        var buffer = max <= StackUtf8Limit ? stackalloc byte[StackUtf8Limit] : (rented = ArrayPool<byte>.Shared.Rent(max));
        try
        {
            BindUtf8(index, buffer[..Encoding.UTF8.GetBytes(value, buffer)]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Binds VARCHAR from UTF-8 bytes (DuckDB checks they are valid UTF-8).</summary>
    public void BindUtf8(int index, ReadOnlySpan<byte> utf8)
    {
        fixed (byte* p = utf8)
        {
            Check(index, NativeMethods.PreparedStatements.BindVarcharLength(Handle(index), (ulong)index, p, (ulong)utf8.Length), "VARCHAR");
        }
    }

    public void BindBlob(int index, ReadOnlySpan<byte> data)
    {
        // A non-null pointer even for an empty blob: DuckDB treats a null pointer as an error.
        byte empty = 0;
        fixed (byte* p = data)
        {
            var pointer = p == null ? &empty : p;
            Check(index, NativeMethods.PreparedStatements.BindBlob(Handle(index), (ulong)index, pointer, (ulong)data.Length), "BLOB");
        }
    }

    /// <summary>Binds a LIST of <paramref name="elementType"/>; elements may be null and may be lists themselves.</summary>
    public void BindList(int index, DuckDbLogicalType elementType, System.Collections.IEnumerable elements)
    {
        using var list = DuckDbValueFactory.CreateList(elementType, elements);
        Check(index, NativeMethods.PreparedStatements.BindValue(Handle(index), (ulong)index, list), DuckDbLogicalType.List(elementType).ToString());
    }

    /// <summary>
    /// Binds by CLR type: null → NULL, bool → BOOLEAN, int → INTEGER, long → BIGINT, double/float → DOUBLE,
    /// string → VARCHAR, byte[] → BLOB, DateTime → TIMESTAMP, and arrays or lists of those → LIST.
    /// </summary>
    public void Bind(int index, object? value)
    {
        switch (value)
        {
            case null: BindNull(index); break;
            case bool b: Bind(index, b); break;
            case int i: Bind(index, i); break;
            case long l: Bind(index, l); break;
            case double d: Bind(index, d); break;
            case float f: Bind(index, (double)f); break;
            case string s: Bind(index, s); break;
            case byte[] blob: BindBlob(index, blob); break;
            case DateTime t: Bind(index, t); break;
            case System.Collections.IEnumerable e:
                BindList(index, DuckDbValueFactory.InferElementType(e), e);
                break;
            default:
                throw new ArgumentException(
                    $"Parameter ${index}: values of type {value.GetType().Name} cannot be bound; use bool, int, long, double, string, byte[], DateTime or a list of these.",
                    nameof(value));
        }
    }

    public void ClearBindings()
    {
        _connection.ThrowIfClosed();
        if (NativeMethods.PreparedStatements.ClearBindings(_handle) != DuckDbState.Success)
        {
            throw new DuckDbException("DuckDB could not clear the bindings.", Sql, DuckDbErrorType.Invalid);
        }
    }

    /// <summary>Executes and returns a streaming result. The statement stays usable (and must outlive the result).</summary>
    public DuckDbResult Execute() => ExecuteCore(owned: null);

    /// <summary>Executes and returns the number of rows changed, reading the result to its end.</summary>
    public long ExecuteNonQuery()
    {
        using var result = ExecuteMaterialized();
        return result.RowsChanged;
    }

    /// <summary>Executes and materializes the whole result before returning.</summary>
    public DuckDbResult ExecuteMaterialized()
    {
        _connection.ThrowIfClosed();
        var result = ResultHandle.Allocate();
        try
        {
            if (NativeMethods.PreparedStatements.Execute(_handle, result.Pointer) != DuckDbState.Success)
            {
                throw DuckDbConnection.ErrorOf(result, Sql);
            }

            return new DuckDbResult(result, Sql);
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>Executes and hands this statement's lifetime to the result.</summary>
    internal DuckDbResult ExecuteOwning() => ExecuteCore(owned: this);

    public void Dispose() => _handle.Dispose();

    private DuckDbResult ExecuteCore(IDisposable? owned)
    {
        _connection.ThrowIfClosed();
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        var result = ResultHandle.Allocate();
        nint pending = 0;
        try
        {
            if (NativeMethods.PreparedStatements.PendingStreaming(_handle, out pending) != DuckDbState.Success)
            {
                var message = NativeMethods.ReadUtf8(NativeMethods.PreparedStatements.PendingError(pending)) ?? "unknown error";
                throw new DuckDbException(message, Sql);
            }

            if (NativeMethods.PreparedStatements.ExecutePending(pending, result.Pointer) != DuckDbState.Success)
            {
                throw DuckDbConnection.ErrorOf(result, Sql);
            }

            return new DuckDbResult(result, Sql, owned);
        }
        catch
        {
            result.Dispose();
            throw;
        }
        finally
        {
            NativeMethods.PreparedStatements.DestroyPending(ref pending);
        }
    }

    private PreparedStatementHandle Handle(int index)
    {
        _connection.ThrowIfClosed();
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        if (index < 1 || index > ParameterCount)
        {
            throw new ArgumentOutOfRangeException(
                nameof(index),
                index,
                $"Parameter ${index} does not exist: the statement has {ParameterCount} parameter(s), numbered from $1.");
        }

        return _handle;
    }

    private void Check(int index, DuckDbState state, string typeName)
    {
        if (state != DuckDbState.Success)
        {
            throw new DuckDbException($"DuckDB could not bind a {typeName} value to parameter ${index}.", Sql, DuckDbErrorType.MismatchType);
        }
    }
}
