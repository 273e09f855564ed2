using TraceStore.Engine.Wal;
using TraceStore.Testing;
using Xunit.Abstractions;

namespace TraceStore.Engine.Tests.Wal;

/// <summary>
/// Acknowledged means durable, checked with real crashes: a child process opens a store and ingests OTLP requests
/// from 8 producers, printing each acknowledged request id; the test kills it with SIGKILL at a random moment, opens
/// the store (recovery and replay), seals everything, and checks in the segments that every span of every
/// acknowledged request is there exactly once and that no request is half there (all of its spans or none). The next iteration
/// reopens the same store, so recovery after repeated crashes is covered too. Seeded; bounded to
/// <see cref="DefaultIterations"/> here. A longer soak: <c>TRACESTORE_CRASH_ITERATIONS=500 dotnet test
/// tests/TraceStore.Engine.Tests --filter WalCrashTests</c>.
/// </summary>
[Collection(ChildProcessTests.Name)]
public sealed class WalCrashTests(ITestOutputHelper output)
{
    private const int DefaultIterations = 12;
    private const int SpansPerRequest = 5;

    /// <summary>Crashes per store before starting a fresh one, so a long soak does not rescan an ever-growing log.</summary>
    private const int CrashesPerLog = 10;
    private const int Seed = 20261121;

    [Fact]
    public async Task Every_acknowledged_span_survives_sigkill_exactly_once_and_no_request_is_half_visible()
    {
        var iterations = int.TryParse(Environment.GetEnvironmentVariable("TRACESTORE_CRASH_ITERATIONS"), out var n) ? n : DefaultIterations;
        var random = new Random(Seed);
        var folder = new TempDirectory("wal-crash");
        var acked = new HashSet<long>();
        long ackedTotal = 0, spansChecked = 0;
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

            var (spansPerRequest, records, torn) = await RecoverSpans(folder.Path);
            var duplicated = spansPerRequest.Where(r => r.Value.Count != r.Value.Distinct().Count()).Select(r => r.Key).ToList();
            var partial = spansPerRequest.Where(r => r.Value.Distinct().Count() != SpansPerRequest).Select(r => r.Key).ToList();
            var lost = acked.Where(id => !spansPerRequest.ContainsKey(id)).ToList();
            Assert.True(duplicated.Count == 0, $"iteration {iteration}: spans stored twice in requests {string.Join(", ", duplicated.Take(5))}");
            Assert.True(partial.Count == 0, $"iteration {iteration}: requests half visible: {string.Join(", ", partial.Take(5))}");
            Assert.True(lost.Count == 0, $"iteration {iteration}: {lost.Count} acknowledged requests missing after recovery, e.g. {string.Join(", ", lost.Take(5))}");
            spansChecked += acked.Count * SpansPerRequest;
            output.WriteLine($"iteration {iteration}: killed after {lifetime.TotalMilliseconds:F0} ms; {ackedNow.Count} acks; log holds {records} records; torn tail: {torn ?? "none"}");
        }

        folder.Dispose();
        output.WriteLine($"{iterations} crashes, {ackedTotal} acknowledged requests ({ackedTotal * SpansPerRequest} spans) checked, 0 lost, 0 duplicated, 0 half visible");
        Assert.True(ackedTotal > iterations, "the child acknowledged almost nothing: the test checked nothing");
        Assert.True(spansChecked > 0);
    }

    /// <summary>
    /// What the store holds after the crash, the way a reader sees it: the store is opened (recovering the WAL and
    /// replaying it into the assembler), everything open is sealed, and the span names are read from the committed
    /// segments, each (trace, span) once. Returns the span names by request id, the WAL records scanned, and the torn
    /// tail recovery cut, if any.
    /// </summary>
    private static async Task<(Dictionary<long, List<string>> SpansPerRequest, long Records, string? TornTail)> RecoverSpans(string dataFolder)
    {
        var before = WalRecovery.Scan(new FileWalStorage(Path.Combine(dataFolder, "wal")), (_, _) => { }, repairTornTail: false);
        long records;
        var store = TraceStore.Open(new TraceStoreOptions { DataDirectory = dataFolder, Wal = new WalOptions { SegmentBytes = 1 << 20 } });
        await using (store)
        {
            records = store.GetStats().ReplayedRecords;
            store.SealAll();
        }

        var spans = new Dictionary<long, List<string>>();
        if (Directory.GetDirectories(Path.Combine(dataFolder, "segments")).Length == 0)
        {
            return (spans, records, before.TornTail?.Reason);
        }

        using var database = DuckDb.DuckDbDatabase.OpenInMemory();
        using var connection = database.Connect();
        var files = DuckDb.DuckDbSql.Literal(Path.Combine(dataFolder, "segments", "*", "spans.parquet"));
        using var result = connection.Query($"SELECT DISTINCT trace_id, span_id, name FROM read_parquet({files})");
        foreach (var row in result.ReadAllRows())
        {
            var name = (string)row[2]!;
            var id = long.Parse(name.AsSpan(3, name.IndexOf('-', StringComparison.Ordinal) - 3), System.Globalization.CultureInfo.InvariantCulture);
            (spans.TryGetValue(id, out var names) ? names : spans[id] = []).Add(name);
        }

        return (spans, records, before.TornTail?.Reason);
    }

    private static async Task<IReadOnlyList<long>> RunUntilKilled(string folder, long firstId, int seed, TimeSpan lifetime)
    {
        string[] arguments = [folder, firstId.ToString(System.Globalization.CultureInfo.InvariantCulture), "8", seed.ToString(System.Globalization.CultureInfo.InvariantCulture)];
        return (await CrashHarnessProcess.RunAndKillAfterAsync(arguments, lifetime)).Acknowledged;
    }
}
