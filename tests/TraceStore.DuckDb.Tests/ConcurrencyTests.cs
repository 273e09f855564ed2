using TraceStore.Testing;

namespace TraceStore.DuckDb.Tests;

/// <summary>Several connections on one database, each used from its own thread.</summary>
public sealed class ConcurrencyTests
{
    private const int Threads = 6;

    [Fact]
    public async Task Concurrent_appenders_and_readers_on_one_file_database_see_consistent_totals()
    {
        using var folder = new TempDirectory();
        using var database = DuckDbDatabase.Open(folder.File("c.duckdb"), new DuckDbDatabaseOptions { Threads = 2 });
        using (var setup = database.Connect())
        {
            setup.Execute("CREATE TABLE events (writer INTEGER, seq BIGINT, payload VARCHAR)");
        }

        const int RowsPerWriter = 20_000;
        using var start = new Barrier(Threads);
        var readerErrors = 0;
        var writers = Enumerable.Range(0, Threads).Select(w => Task.Factory.StartNew(() =>
        {
            using var connection = database.Connect();
            start.SignalAndWait();
            if (w % 2 == 0)
            {
                using var appender = connection.CreateChunkAppender("events");
                for (var i = 0; i < RowsPerWriter; i++)
                {
                    var row = appender.AddRow();
                    appender.Column(0).SetInt32(row, w);
                    appender.Column(1).SetInt64(row, i);
                    appender.Column(2).SetString(row, $"writer {w} event {i} with a payload longer than twelve bytes");
                }

                appender.Close();
            }
            else
            {
                // Readers: every snapshot they see is whole per writer chunk flush, and never exceeds the final total.
                for (var i = 0; i < 50; i++)
                {
                    using var result = connection.Query("SELECT count(*), count(DISTINCT writer) FROM events");
                    var row = result.ReadAllRows()[0];
                    if ((long)row[0]! > (Threads / 2) * (long)RowsPerWriter)
                    {
                        Interlocked.Increment(ref readerErrors);
                    }
                }
            }
        }, TaskCreationOptions.LongRunning)).ToArray();
        await Task.WhenAll(writers);

        using var check = database.Connect();
        using var totals = check.Query("SELECT writer, count(*), sum(seq), count(DISTINCT payload) FROM events GROUP BY writer ORDER BY writer");
        var rows = totals.ReadAllRows();
        Assert.Equal(0, readerErrors);
        Assert.Equal(Threads / 2, rows.Count);
        foreach (var row in rows)
        {
            Assert.Equal(0, (int)row[0]! % 2);
            Assert.Equal((long)RowsPerWriter, row[1]);
            Assert.Equal((Int128)((long)RowsPerWriter * (RowsPerWriter - 1) / 2), row[2]);
            Assert.Equal((long)RowsPerWriter, row[3]);
        }
    }

    [Fact]
    public async Task Concurrent_prepared_queries_on_separate_connections_return_their_own_results()
    {
        using var database = DuckDbDatabase.OpenInMemory(new DuckDbDatabaseOptions { Threads = 2 });
        using (var setup = database.Connect())
        {
            setup.Execute("CREATE TABLE n AS SELECT i FROM range(100000) t(i)");
        }

        var failures = 0;
        var tasks = Enumerable.Range(0, Threads).Select(t => Task.Factory.StartNew(() =>
        {
            using var connection = database.Connect();
            using var statement = connection.Prepare("SELECT count(*), sum(i) FROM n WHERE i % $1 = $2");
            for (var k = 0; k < 100; k++)
            {
                var modulus = (long)(t + 2);
                var remainder = (long)(k % (t + 2));
                statement.Bind(1, modulus);
                statement.Bind(2, remainder);
                using var result = statement.Execute();
                var row = result.ReadAllRows()[0];
                var expectedCount = Enumerable.Range(0, 100000).LongCount(i => i % modulus == remainder);
                if ((long)row[0]! != expectedCount)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        }, TaskCreationOptions.LongRunning)).ToArray();
        await Task.WhenAll(tasks);

        Assert.Equal(0, failures);
    }
}
