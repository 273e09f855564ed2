using System.Globalization;
using TraceStore.Engine;
using TraceStore.Engine.Ingest;
using TraceStore.Engine.Wal;
using TraceStore.OtlpOracle;
using TraceStore.Protocol.Content;

// Usage: TraceStore.CrashHarness <data folder> <first id> <producers> <seed>
// Opens the store (recovering and replaying its WAL, as any open does), then ingests OTLP requests from several
// producers until killed. Request n carries SpansPerRequest spans named "req<n>-<k>"; after each acknowledgement
// the harness writes "ACK <n>" to stdout.
const int SpansPerRequest = 5;
var folder = args[0];
var nextId = long.Parse(args[1], CultureInfo.InvariantCulture);
var producers = int.Parse(args[2], CultureInfo.InvariantCulture);
var random = new Random(int.Parse(args[3], CultureInfo.InvariantCulture));
var store = TraceStore.Engine.TraceStore.Open(new TraceStoreOptions
{
    DataDirectory = folder,
    Wal = new WalOptions { SegmentBytes = 1 << 20 },
    MemoryBudgetBytes = 256L << 20,
    Decoder = TraceStore.Protocol.Otlp.OtlpDecoderOptions.Default with { MaxMessageBytes = 16L << 20 },
});
var output = Console.Out;
var gate = new object();
Console.Out.WriteLine($"READY {store.GetStats().LastWalSequence}");
Console.Out.Flush();

await Task.WhenAll(Enumerable.Range(0, producers).Select(p => Task.Run(async () =>
{
    var valueBytes = random.Next(16, 2_000);
    while (true)
    {
        var id = Interlocked.Increment(ref nextId) - 1;
        var body = OtlpTestRequests.Protobuf(SpansPerRequest, valueBytes, seed: (int)(id % int.MaxValue), namePrefix: $"req{id}");
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
