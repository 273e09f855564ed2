using TraceStore.DuckDb.Native;
using TraceStore.DuckDb.TableFunctions;

namespace TraceStore.DuckDb;

/// <summary>
/// One DuckDB connection: a session with its own transaction state. Not thread-safe; open one connection per
/// concurrent user. User-supplied values go through <see cref="Prepare"/> and parameters, never into SQL text.
/// </summary>
internal sealed unsafe class DuckDbConnection : IDisposable
{
    private readonly ConnectionHandle _handle;

    internal DuckDbConnection(DuckDbDatabase database, ConnectionHandle handle)
    {
        Database = database;
        _handle = handle;
    }

    public DuckDbDatabase Database { get; }

    public bool IsClosed => _handle.IsClosed;

    internal ConnectionHandle Handle
    {
        get
        {
            ThrowIfClosed();
            return _handle;
        }
    }

    /// <summary>Runs a statement (or several, separated by semicolons) and returns the rows it changed.</summary>
    public long Execute(string sql)
    {
        using var result = Query(sql);
        return result.RowsChanged;
    }

    /// <summary>Runs SQL without parameters and returns its materialized result.</summary>
    public DuckDbResult Query(string sql)
    {
        ArgumentNullException.ThrowIfNull(sql);
        var result = ResultHandle.Allocate();
        try
        {
            if (NativeMethods.Query.Run(Handle, sql, result.Pointer) != DuckDbState.Success)
            {
                throw ErrorOf(result, sql);
            }

            return new DuckDbResult(result, sql);
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>Prepares, binds <paramref name="parameters"/> to $1, $2, ... by their CLR types (see
    /// <see cref="DuckDbPreparedStatement.Bind(int, object?)"/>) and executes as a streaming result.</summary>
    public DuckDbResult Query(string sql, params object?[] parameters)
    {
        var statement = Prepare(sql);
        try
        {
            for (var i = 0; i < parameters.Length; i++)
            {
                statement.Bind(i + 1, parameters[i]);
            }

            return statement.ExecuteOwning();
        }
        catch
        {
            statement.Dispose();
            throw;
        }
    }

    public DuckDbPreparedStatement Prepare(string sql)
    {
        ArgumentNullException.ThrowIfNull(sql);
        var state = NativeMethods.PreparedStatements.Prepare(Handle, sql, out var statement);
        if (state != DuckDbState.Success)
        {
            var message = NativeMethods.ReadUtf8(NativeMethods.PreparedStatements.PrepareError(statement)) ?? "unknown error";
            statement.Dispose();
            throw new DuckDbException(message, sql);
        }

        return new DuckDbPreparedStatement(this, statement, sql);
    }

    /// <summary>Opens a bulk appender that fills whole data chunks (the fast path for loads).</summary>
    public DuckDbChunkAppender CreateChunkAppender(string table, string? schema = null) => new(this, schema, table);

    /// <summary>Opens DuckDB's row-at-a-time appender (one native call per value; a baseline and for small loads).</summary>
    public DuckDbRowAppender CreateRowAppender(string table, string? schema = null) => new(this, schema, table);

    /// <summary>Makes <paramref name="function"/> callable from SQL on this connection's database.</summary>
    public void RegisterTableFunction(DuckDbTableFunction function) => TableFunctionRegistration.Register(this, function);

    /// <summary>Asks the running query on this connection to stop; it then fails with an Interrupt error.</summary>
    public void Interrupt() => NativeMethods.Startup.Interrupt(Handle);

    public void Dispose() => _handle.Dispose();

    internal void ThrowIfClosed()
    {
        if (_handle.IsClosed)
        {
            throw new ObjectDisposedException(
                nameof(DuckDbConnection),
                "The DuckDB connection is closed (it was disposed); open a new one with DuckDbDatabase.Connect().");
        }
    }

    internal static DuckDbException ErrorOf(ResultHandle result, string sql)
    {
        var message = NativeMethods.ReadUtf8(NativeMethods.Query.ResultError(result.Pointer)) ?? "unknown error";
        return new DuckDbException(message, sql, NativeMethods.Query.ResultErrorType(result.Pointer));
    }
}
