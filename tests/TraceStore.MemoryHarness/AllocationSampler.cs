using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace TraceStore.MemoryHarness;

/// <summary>Counts the GC's allocation-tick events (one per ~100 KB allocated) by type, to see who allocates.</summary>
internal sealed class AllocationSampler : EventListener
{
    private readonly ConcurrentDictionary<string, long> _bytes = new();

    public IEnumerable<(string Type, long Bytes)> Top(int count) =>
        _bytes.OrderByDescending(e => e.Value).Take(count).Select(e => (e.Key, e.Value));

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x1);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (eventData.EventName == "GCAllocationTick_V4" && eventData.Payload is { } payload)
        {
            var index = eventData.PayloadNames!.IndexOf("TypeName");
            var amount = eventData.PayloadNames.IndexOf("AllocationAmount64");
            if (index >= 0 && amount >= 0)
            {
                _bytes.AddOrUpdate((string)payload[index]!, (long)(ulong)payload[amount]!, (_, v) => v + (long)(ulong)payload[amount]!);
            }
        }
    }
}
