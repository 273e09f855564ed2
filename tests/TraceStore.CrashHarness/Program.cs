using System.Globalization;
using TraceStore.Engine;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Ingest;
using TraceStore.Engine.Segments;
using TraceStore.Engine.Wal;
using TraceStore.OtlpOracle;
using TraceStore.Protocol.Content;

// Usage: TraceStore.CrashHarness <data folder> <first id> <producers> <seed> [<workload> <crash point> <occurrence>]
// Opens the store (recovering and replaying its WAL, as any open does), then ingests OTLP requests from several
// producers until killed; after each acknowledgement it writes "ACK <n>" to stdout.
// Without a workload, request n carries SpansPerRequest new spans named "req<n>-<k>" and the store seals as it
// would in production (rarely, in these short runs). With a workload (CrashWorkload: traces spread over requests,
// late spans, resends) the store seals every few milliseconds, and the sealer's crash point hook is set: the
// <occurrence>-th time the sealer reaches <crash point> (SealerCrashPoints), the harness writes "CRASH-POINT <name>"
// and stops there, inside the sealer, until the test kills it.
const int SpansPerRequest = 5;
var folder = args[0];
var nextId = long.Parse(args[1], CultureInfo.InvariantCulture);
var producers = int.Parse(args[2], CultureInfo.InvariantCulture);
var random = new Random(int.Parse(args[3], CultureInfo.InvariantCulture));
var workload = args.Length > 4 ? args[4] : null;
var output = Console.Out;
var gate = new object();

var options = new TraceStoreOptions
{
    DataDirectory = folder,
    Wal = new WalOptions { SegmentBytes = 1 << 20 },
    MemoryBudgetBytes = 256L << 20,
    Decoder = TraceStore.Protocol.Otlp.OtlpDecoderOptions.Default with { MaxMessageBytes = 16L << 20 },
};
if (workload is not null)
{
    var crashPoint = args[5];
    var occurrence = int.Parse(args[6], CultureInfo.InvariantCulture);
    var reached = 0;
    var stopped = new ManualResetEventSlim();
    options = options with
    {
        // Seal as soon as anything is due, and soon after the last span even without a root, so segments are
        // written (and late spans merged with sealed parts) all through the run.
        Assembler = new AssemblerOptions { IdleAfterRootEnd = TimeSpan.Zero, MaxTraceAge = TimeSpan.FromMilliseconds(100), MaxSpansPerPart = 8 },

        // The crash is in a seal's window: a merge replacing segments first (30 s in, on a loaded machine) would make
        // the newest committed segment a merge's, not the interrupted seal's.
        Compaction = new TraceStore.Engine.Compaction.CompactionOptions { RunInBackground = false },
        Sealer = new SealerOptions
        {
            Interval = TimeSpan.FromMilliseconds(10),
            SegmentMaxDelay = TimeSpan.Zero,
            CrashPoint = point =>
            {
                if (point != crashPoint || Interlocked.Increment(ref reached) != occurrence)
                {
                    return;
                }

                lock (gate)
                {
                    output.WriteLine($"CRASH-POINT {point}");
                    output.Flush();
                }

                // Stay in the window (the sealer's lock held, nothing after this point done) until the test's SIGKILL.
                stopped.Wait();
            },
        },
    };
}

var store = TraceStore.Engine.TraceStore.Open(options);
output.WriteLine($"READY {store.GetStats().LastWalSequence}");
output.Flush();

// Drawn here, not inside the producers: Random is not thread-safe.
var valueSizes = Enumerable.Range(0, producers).Select(_ => random.Next(16, 2_000)).ToArray();
await Task.WhenAll(Enumerable.Range(0, producers).Select(p => Task.Run(async () =>
{
    var valueBytes = valueSizes[p];
    while (true)
    {
        var id = Interlocked.Increment(ref nextId) - 1;
        var body = workload is null
            ? OtlpTestRequests.Protobuf(SpansPerRequest, valueBytes, seed: (int)(id % int.MaxValue), namePrefix: $"req{id}")
            : CrashWorkload.Request(workload, id, valueBytes);
        var result = await store.IngestAsync(new OtlpPayload(body, OtlpPayloadFormat.Protobuf));
        if (result.Outcome != IngestOutcome.Accepted)
        {
            await Console.Error.WriteLineAsync($"request {id}: {result.Outcome}: {result.Message}");
            continue;
        }

        lock (gate)
        {
            output.WriteLine($"ACK {id}");
            output.Flush();
        }
    }
})));
