using System.Text;
using TraceStore.Engine.Wal;

// Usage: TraceStore.CrashHarness <wal folder> <first id> <producers> <seed>
// Recovers the WAL (repairing a torn tail, as opening the store does), then appends records whose payload is
// "id:<n>" from several producers until killed, writing "ACK <n>" to stdout after each acknowledgement.
var folder = args[0];
var nextId = long.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture);
var producers = int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
var random = new Random(int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture));
var storage = new FileWalStorage(folder);
var recovered = WalRecovery.Scan(storage, (_, _) => { }, repairTornTail: true);
var writer = WalWriter.Open(storage, new WalOptions { SegmentBytes = 1 << 20 }, recovered.NextSequence);
var output = Console.Out;
var gate = new object();
Console.Out.WriteLine($"READY {recovered.NextSequence}");
Console.Out.Flush();

await Task.WhenAll(Enumerable.Range(0, producers).Select(_ => Task.Run(async () =>
{
    var size = random.Next(16, 4_000);
    while (true)
    {
        var id = Interlocked.Increment(ref nextId) - 1;
        var payload = new byte[size];
        Encoding.ASCII.GetBytes($"id:{id}:").CopyTo(payload, 0);
        await writer.AppendAsync(new WalEntry("0", id, WalPayloadFormat.Protobuf, WalPayloadEncoding.Identity, payload));
        lock (gate)
        {
            output.WriteLine($"ACK {id}");
            output.Flush();
        }
    }
})));
