using TraceStore.DuckDb.Native;

namespace TraceStore.DuckDb;

/// <summary>
/// An open DuckDB database, file-backed or in memory. Thread-safe: any number of connections may be opened
/// from it and used on different threads (one thread per connection at a time). Disposing the database
/// while connections are open is safe: DuckDB keeps the instance alive until the last one closes.
/// </summary>
internal sealed class DuckDbDatabase : IDisposable
{
    private readonly DatabaseHandle _handle;

    private DuckDbDatabase(DatabaseHandle handle, string? path)
    {
        _handle = handle;
        Path = path;
    }

    /// <summary>The database file, or null for an in-memory database.</summary>
    public string? Path { get; }

    /// <summary>The loaded library's version, e.g. "v1.5.6".</summary>
    public static string LibraryVersion => NativeMethods.ReadUtf8(NativeMethods.Startup.LibraryVersion()) ?? "unknown";

    /// <summary>Rows per data chunk (DuckDB's STANDARD_VECTOR_SIZE, 2048).</summary>
    public static int VectorSize { get; } = (int)NativeMethods.Startup.VectorSize();

    public static DuckDbDatabase Open(string path, DuckDbDatabaseOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return OpenCore(path, options);
    }

    public static DuckDbDatabase OpenInMemory(DuckDbDatabaseOptions? options = null) => OpenCore(null, options);

    private static DuckDbDatabase OpenCore(string? path, DuckDbDatabaseOptions? options)
    {
        if (NativeMethods.Startup.CreateConfig(out var config) != DuckDbState.Success)
        {
            config.Dispose();
            throw new DuckDbException("DuckDB could not create a configuration object.");
        }

        using (config)
        {
            foreach (var (name, value) in (options ?? new()).ToConfig())
            {
                if (NativeMethods.Startup.SetConfig(config, name, value) != DuckDbState.Success)
                {
                    throw new ArgumentException($"DuckDB rejected the setting {name} = '{value}'.", nameof(options));
                }
            }

            var state = NativeMethods.Startup.OpenExt(path, out var database, config, out var error);
            if (state != DuckDbState.Success)
            {
                database.Dispose();
                var message = NativeMethods.ReadUtf8AndFree(error) ?? "unknown error";
                throw new DuckDbException($"Could not open DuckDB database '{path ?? ":memory:"}': {message}", sql: null);
            }

            return new DuckDbDatabase(database, path);
        }
    }

    public DuckDbConnection Connect()
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        if (NativeMethods.Startup.Connect(_handle, out var connection) != DuckDbState.Success)
        {
            connection.Dispose();
            throw new DuckDbException($"Could not connect to DuckDB database '{Path ?? ":memory:"}'.");
        }

        return new DuckDbConnection(this, connection);
    }

    public void Dispose() => _handle.Dispose();
}
