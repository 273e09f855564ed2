using BenchmarkDotNet.Attributes;
using TraceStore.Benchmarks.Infrastructure;
using TraceStore.DuckDb;

namespace TraceStore.Benchmarks.DuckDb;

/// <summary>
/// Base of the load benchmarks: the same 1M <see cref="SpanRows"/> for every method, and a fresh in-memory
/// database with an empty <c>spans</c> table before every operation (dropped after it).
/// </summary>
public abstract class SpanTableBenchmark
{
    public const int Rows = 1_000_000;

    protected SpanRows Spans { get; private set; } = null!;

    private protected DuckDbConnection Connection { get; private set; } = null!;

    private DuckDbDatabase _database = null!;

    [GlobalSetup]
    public void LoadRows()
    {
        Spans = new SpanRows(Rows);
        foreach (var method in GetType().GetMethods().Where(m => m.IsDefined(typeof(BenchmarkAttribute), inherit: false)))
        {
            ThroughputColumn.Record(method.Name, Rows, Spans.RawBytes);
        }
    }

    [IterationSetup]
    public void CreateTable()
    {
        _database = DuckDbDatabase.OpenInMemory(new DuckDbDatabaseOptions { Threads = 2 });
        Connection = _database.Connect();
        Connection.Execute(SpanRows.CreateTableSql);
    }

    [IterationCleanup]
    public void DropDatabase()
    {
        Connection.Dispose();
        _database.Dispose();
    }

    /// <summary>Loads every row through whole data chunks (the path TraceStore's sealer uses).</summary>
    internal static long AppendChunks(DuckDbConnection connection, SpanRows spans)
    {
        using var appender = connection.CreateChunkAppender("spans");
        for (var i = 0; i < spans.Count; i++)
        {
            var row = appender.AddRow();
            appender.Column(0).SetUtf8(row, spans.TraceId(i));
            appender.Column(1).SetUtf8(row, spans.SpanId(i));
            if (spans.HasParent(i))
            {
                appender.Column(2).SetUtf8(row, spans.ParentSpanId(i));
            }
            else
            {
                appender.Column(2).SetNull(row);
            }

            appender.Column(3).SetUtf8(row, spans.Name(i));
            appender.Column(4).SetInt32(row, spans.Kind[i]);
            appender.Column(5).SetInt64(row, spans.StartNs[i]);
            appender.Column(6).SetInt64(row, spans.EndNs[i]);
            appender.Column(7).SetInt32(row, spans.StatusCode[i]);
            appender.Column(8).SetUtf8(row, spans.Attributes(i));
        }

        appender.Close();
        return appender.RowCount;
    }
}
