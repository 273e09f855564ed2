namespace TraceStore.DuckDb.Tests;

/// <summary>An in-memory database and one connection to it, for tests that need nothing else.</summary>
public abstract class InMemoryDatabase : IDisposable
{
    private readonly DuckDbDatabase _database;

    protected InMemoryDatabase()
    {
        _database = DuckDbDatabase.OpenInMemory(new DuckDbDatabaseOptions { Threads = 2 });
        Connection = _database.Connect();
    }

    internal DuckDbConnection Connection { get; }

    internal DuckDbDatabase Database => _database;

    /// <summary>Runs a parameterized query and returns its single value.</summary>
    internal object? Scalar(string sql, params object?[] parameters)
    {
        using var result = Connection.Query(sql, parameters);
        return Assert.Single(result.ReadAllRows())[0];
    }

    public void Dispose()
    {
        Connection.Dispose();
        _database.Dispose();
        GC.SuppressFinalize(this);
    }
}
