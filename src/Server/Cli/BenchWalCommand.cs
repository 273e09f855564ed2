using System.CommandLine;
using System.Diagnostics;
using TraceStore.Engine.Wal;

namespace TraceStore.Server.Cli;

/// <summary>
/// <c>tracestore bench wal</c>: what the write-ahead log sustains on this machine's disk. For 1, 4, 16 and 64
/// concurrent producers, each appending requests back to back: MB/s, appends/s and acknowledgement latency
/// (p50, p99) with group commit in fsync mode, against a baseline that does one write and one fsync per request
/// (serialised, as a log without group commit must). Also the disk's sequential write bandwidth (1 MiB writes,
/// one fsync at the end) and recovery replay speed (reading and verifying the log written by the run).
/// </summary>
internal static class BenchWalCommand
{
    private static readonly int[] ProducerCounts = [1, 4, 16, 64];

    public static Command Create()
    {
        var seconds = new Option<double>("--seconds") { Description = "Measuring time per configuration.", DefaultValueFactory = _ => 3 };
        var payload = new Option<int>("--payload-bytes") { Description = "Bytes per appended request.", DefaultValueFactory = _ => 16 * 1024 };
        var folder = new Option<DirectoryInfo?>("--data") { Description = "Folder to write in (default: a new folder under the system temp folder, deleted after)." };
        var command = new Command("wal", "Measure WAL group commit against one fsync per request, disk bandwidth and recovery speed.") { seconds, payload, folder };
        command.SetAction(async (result, cancellation) =>
        {
            var output = result.InvocationConfiguration.Output;
            var root = result.GetValue(folder)?.FullName ?? Path.Combine(Path.GetTempPath(), $"tracestore-bench-wal-{Guid.NewGuid():N}");
            Directory.CreateDirectory(root);
            try
            {
                await Run(root, TimeSpan.FromSeconds(Math.Max(0.5, result.GetValue(seconds))), Math.Max(64, result.GetValue(payload)), output).ConfigureAwait(false);
            }
            finally
            {
                if (result.GetValue(folder) is null)
                {
                    Directory.Delete(root, recursive: true);
                }
            }

            return 0;
        });
        return command;
    }

    private static async Task Run(string root, TimeSpan perConfiguration, int payloadBytes, TextWriter output)
    {
        output.WriteLine($"folder {root}; {payloadBytes:N0}-byte requests; {perConfiguration.TotalSeconds:F1} s per configuration");
        output.WriteLine();
        output.WriteLine($"{"producers",9} {"mode",-22} {"MB/s",9} {"appends/s",10} {"p50 ms",8} {"p99 ms",8} {"fsyncs",8}");
        var entry = new WalEntry("0", 0, WalPayloadFormat.Protobuf, WalPayloadEncoding.Identity, new byte[payloadBytes]);
        var groupAt64 = 0.0;
        var baselineAt64 = 0.0;
        foreach (var producers in ProducerCounts)
        {
            var folder = Path.Combine(root, $"group-{producers}");
            var storage = new CountingStorage(new FileWalStorage(folder));
            var writer = WalWriter.Open(storage, new WalOptions(), nextSequence: 1);
            var group = await Measure(producers, perConfiguration, payloadBytes, () => writer.AppendAsync(entry)).ConfigureAwait(false);
            await writer.DisposeAsync().ConfigureAwait(false);
            Print(output, producers, "group commit (fsync)", group, storage.Syncs);

            using var baselineStore = new OneFsyncPerRequest(Path.Combine(root, $"baseline-{producers}.log"));
            var baseline = await Measure(producers, perConfiguration, payloadBytes, () => baselineStore.AppendAsync(entry)).ConfigureAwait(false);
            Print(output, producers, "one fsync per request", baseline, baselineStore.Syncs);
            if (producers == 64)
            {
                (groupAt64, baselineAt64) = (group.MegabytesPerSecond, baseline.MegabytesPerSecond);
            }
        }

        var sequential = SequentialBandwidth(Path.Combine(root, "sequential.bin"));
        var replay = Replay(Path.Combine(root, "group-64"));
        output.WriteLine();
        output.WriteLine($"sequential write bandwidth (1 MiB writes, fsync at end): {sequential:N1} MB/s");
        output.WriteLine($"group commit at 64 producers: {groupAt64 / sequential:P0} of sequential bandwidth, {groupAt64 / baselineAt64:F1}x one fsync per request");
        output.WriteLine($"recovery replay (read + CRC + parse): {replay.MegabytesPerSecond:N0} MB/s over {replay.Bytes / 1e6:N0} MB, {replay.Records:N0} records");
    }

    private sealed record Result(double MegabytesPerSecond, double AppendsPerSecond, double P50Milliseconds, double P99Milliseconds);

    private static async Task<Result> Measure(int producers, TimeSpan duration, int payloadBytes, Func<Task> append)
    {
        var latencies = new List<double>[producers];
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, producers).Select(p => Task.Run(async () =>
        {
            var mine = latencies[p] = new List<double>(4096);
            while (clock.Elapsed < duration)
            {
                var started = Stopwatch.GetTimestamp();
                await append().ConfigureAwait(false);
                mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        }))).ConfigureAwait(false);
        var elapsed = clock.Elapsed.TotalSeconds;
        var all = latencies.SelectMany(l => l).Order().ToArray();
        return new Result(all.Length * (double)payloadBytes / elapsed / 1e6, all.Length / elapsed, Percentile(all, 0.50), Percentile(all, 0.99));
    }

    private static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];

    private static void Print(TextWriter output, int producers, string mode, Result r, long syncs) =>
        output.WriteLine($"{producers,9} {mode,-22} {r.MegabytesPerSecond,9:N1} {r.AppendsPerSecond,10:N0} {r.P50Milliseconds,8:N2} {r.P99Milliseconds,8:N2} {syncs,8:N0}");

    private static double SequentialBandwidth(string path)
    {
        var block = new byte[1 << 20];
        Random.Shared.NextBytes(block);
        var clock = Stopwatch.StartNew();
        using (var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
        {
            for (var i = 0; i < 512; i++)
            {
                file.Write(block);
            }

            file.Flush(flushToDisk: true);
        }

        var seconds = clock.Elapsed.TotalSeconds;
        File.Delete(path);
        return 512.0 * block.Length / seconds / 1e6;
    }

    private static (double MegabytesPerSecond, long Bytes, long Records) Replay(string folder)
    {
        var clock = Stopwatch.StartNew();
        var result = WalRecovery.Scan(new FileWalStorage(folder), (_, _) => { }, repairTornTail: false);
        return (result.Bytes / clock.Elapsed.TotalSeconds / 1e6, result.Bytes, result.Records);
    }

    /// <summary>Counts fsyncs of the real storage.</summary>
    private sealed class CountingStorage(IWalStorage inner) : DelegatingWalStorage(inner)
    {
        private long _syncs;

        public long Syncs => Interlocked.Read(ref _syncs);

        protected override IWalFile WrapFile(IWalFile file) => new CountingFile(this, file);

        private sealed class CountingFile(CountingStorage owner, IWalFile inner) : DelegatingWalFile(inner)
        {
            public override void Sync()
            {
                Inner.Sync();
                Interlocked.Increment(ref owner._syncs);
            }
        }
    }

    /// <summary>The baseline: every request is its own write and fsync, one at a time.</summary>
    private sealed class OneFsyncPerRequest(string path) : IDisposable
    {
        private readonly FileStream _file = new(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0);
        private readonly SemaphoreSlim _lock = new(1, 1);

        public long Syncs { get; private set; }

        public async Task AppendAsync(WalEntry entry)
        {
            var buffer = new byte[WalFormat.RecordSize(entry)];
            WalFormat.WriteRecord(buffer, Syncs + 1, entry);
            await _lock.WaitAsync().ConfigureAwait(false);
            try
            {
                _file.Write(buffer);
                _file.Flush(flushToDisk: true);
                Syncs++;
            }
            finally
            {
                _lock.Release();
            }
        }

        public void Dispose()
        {
            _file.Dispose();
            _lock.Dispose();
        }
    }
}
