using System.Diagnostics;
using System.Text;
using TraceStore.Engine.Wal;
using TraceStore.Testing;
using Xunit.Abstractions;

namespace TraceStore.Engine.Tests.Wal;

/// <summary>
/// Acknowledged means durable, checked with real crashes: a child process appends from 8 producers and prints
/// each acknowledged id; the test kills it with SIGKILL at a random moment, recovers the log (as opening the store
/// does) and checks that every acknowledged record is there exactly once, whole, in contiguous sequence. The next
/// iteration appends to the same log, so recovery after repeated crashes is covered too. Seeded; bounded to
/// <see cref="DefaultIterations"/> here. A longer soak: <c>TRACESTORE_CRASH_ITERATIONS=500 dotnet test
/// tests/TraceStore.Engine.Tests --filter WalCrashTests</c>.
/// </summary>
[Collection(ChildProcessTests.Name)]
public sealed class WalCrashTests(ITestOutputHelper output)
{
    private const int DefaultIterations = 12;

    /// <summary>Crashes per log before starting a fresh one, so a long soak does not rescan an ever-growing log.</summary>
    private const int CrashesPerLog = 10;
    private const int Seed = 20261121;

    [Fact]
    public async Task Every_acknowledged_record_survives_sigkill_exactly_once()
    {
        var iterations = int.TryParse(Environment.GetEnvironmentVariable("TRACESTORE_CRASH_ITERATIONS"), out var n) ? n : DefaultIterations;
        var random = new Random(Seed);
        var folder = new TempDirectory("wal-crash");
        var acked = new HashSet<long>();
        long ackedTotal = 0, recoveredRecords = 0;
        for (var iteration = 0; iteration < iterations; iteration++)
        {
            if (iteration > 0 && iteration % CrashesPerLog == 0)
            {
                folder.Dispose();
                folder = new TempDirectory("wal-crash");
                acked.Clear();
            }

            var firstId = (iteration + 1) * 10_000_000L;
            var lifetime = TimeSpan.FromMilliseconds(random.Next(20, 600));
            var ackedNow = await RunUntilKilled(folder.Path, firstId, random.Next(), lifetime);
            acked.UnionWith(ackedNow);
            ackedTotal += ackedNow.Count;

            var ids = new List<long>();
            var result = WalRecovery.Scan(new FileWalStorage(folder.Path), (_, entry) => ids.Add(IdOf(entry)), repairTornTail: true);
            var duplicates = ids.GroupBy(i => i).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
            var lost = acked.Except(ids).ToList();
            Assert.True(duplicates.Count == 0, $"iteration {iteration}: ids logged twice: {string.Join(", ", duplicates.Take(5))}");
            Assert.True(lost.Count == 0, $"iteration {iteration}: {lost.Count} acknowledged ids missing after recovery, e.g. {string.Join(", ", lost.Take(5))}");
            recoveredRecords = result.Records;
            output.WriteLine($"iteration {iteration}: killed after {lifetime.TotalMilliseconds:F0} ms; {ackedNow.Count} acks; log holds {result.Records} records; torn tail: {result.TornTail?.Reason ?? "none"}");
        }

        folder.Dispose();
        output.WriteLine($"{iterations} crashes, {ackedTotal} acknowledged records checked, 0 lost, {recoveredRecords} records in the last log");
        Assert.True(ackedTotal > iterations, "the child acknowledged almost nothing: the test checked nothing");
    }

    private static long IdOf(WalEntry entry)
    {
        var text = Encoding.ASCII.GetString(entry.Payload.Span[..Math.Min(24, entry.Payload.Length)]);
        return long.Parse(text.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task<List<long>> RunUntilKilled(string folder, long firstId, int seed, TimeSpan lifetime)
    {
        var start = new ProcessStartInfo(DotnetHost.Path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { HarnessPaths.Assembly("TraceStore.CrashHarness"), folder, firstId.ToString(System.Globalization.CultureInfo.InvariantCulture), "8", seed.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var acked = new List<long>();
        var reader = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                if (line.StartsWith("READY", StringComparison.Ordinal))
                {
                    ready.TrySetResult();
                }
                else if (line.StartsWith("ACK ", StringComparison.Ordinal))
                {
                    acked.Add(long.Parse(line.AsSpan(4), System.Globalization.CultureInfo.InvariantCulture));
                }
            }
        });
        var errors = process.StandardError.ReadToEndAsync();

        var started = await Task.WhenAny(ready.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60)));
        if (started != ready.Task)
        {
            throw new InvalidOperationException($"the crash harness did not start: {(process.HasExited ? await errors : "timed out")}");
        }

        await Task.Delay(lifetime);
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
        await reader;
        return acked;
    }
}
