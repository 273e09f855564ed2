using TraceStore.DuckDb.Native;
using TraceStore.DuckDb.TableFunctions;
using TraceStore.Testing;

namespace TraceStore.DuckDb.Tests;

/// <summary>Native objects are released: many open/query/dispose cycles leave no handles and no memory growth.</summary>
[Collection(nameof(ProcessWideCounters))]
public sealed class LifecycleTests
{
    [Fact]
    public void Ten_thousand_open_query_dispose_cycles_leak_no_handles_or_memory()
    {
        using var database = DuckDbDatabase.OpenInMemory(new DuckDbDatabaseOptions { Threads = 1 });
        RunCycles(database, 1_000);
        ForceFinalization();
        var handlesBefore = DuckDbHandle.LiveCount;
        var statesBefore = TableFunctionRegistration.LiveStates;
        var rssBefore = ProcessMemory.ResidentBytes();

        RunCycles(database, 10_000);
        ForceFinalization();

        var rssAfter = ProcessMemory.ResidentBytes();
        Assert.Equal(handlesBefore, DuckDbHandle.LiveCount);
        Assert.Equal(statesBefore, TableFunctionRegistration.LiveStates);
        // Generous: a leak of one result (a few KB) per cycle would grow RSS by far more than this.
        Assert.True(rssAfter - rssBefore < 48L << 20, $"RSS grew {(rssAfter - rssBefore) >> 20} MiB over 10,000 cycles.");
    }

    [Fact]
    public void Databases_opened_and_disposed_release_their_handles()
    {
        ForceFinalization();
        var before = DuckDbHandle.LiveCount;

        for (var i = 0; i < 50; i++)
        {
            using var database = DuckDbDatabase.OpenInMemory();
            using var connection = database.Connect();
            connection.Execute("CREATE TABLE t AS SELECT * FROM range(1000)");
        }

        ForceFinalization();
        Assert.Equal(before, DuckDbHandle.LiveCount);
    }

    private static void RunCycles(DuckDbDatabase database, int cycles)
    {
        for (var i = 0; i < cycles; i++)
        {
            using var connection = database.Connect();
            using var statement = connection.Prepare("SELECT $1::BIGINT * 2, repeat('x', 40) || $2::VARCHAR");
            statement.Bind(1, (long)i);
            statement.Bind(2, "suffix-long-enough-to-be-a-pointer-string");
            using var result = statement.Execute();
            var rows = result.ReadAllRows();
            Assert.Equal((long)i * 2, rows[0][0]);
        }
    }

    private static void ForceFinalization()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}

/// <summary>Tests that read process-wide handle counters run alone, not beside tests that create handles.</summary>
[CollectionDefinition(nameof(ProcessWideCounters), DisableParallelization = true)]
public sealed class ProcessWideCounters;
