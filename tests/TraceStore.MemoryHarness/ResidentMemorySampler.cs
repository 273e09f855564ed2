using TraceStore.Testing;

namespace TraceStore.MemoryHarness;

/// <summary>Samples this process's resident memory every few milliseconds on a thread of its own and keeps the maximum.</summary>
internal sealed class ResidentMemorySampler : IDisposable
{
    private readonly Thread _thread;
    /// <summary>Set to stop; the sampler waits on it between samples, so stopping never waits out a period.</summary>
    private readonly ManualResetEventSlim _stop = new();
    private static readonly TimeSpan SamplePeriod = TimeSpan.FromMilliseconds(2);
    private long _peak;
    private long _peakManaged;
    private long _nextLine;

    /// <summary>Set MEMORY_HARNESS_TIMELINE=1 for a line of memory figures every 100 ms on stderr.</summary>
    private static readonly TextWriter? Timeline = Environment.GetEnvironmentVariable("MEMORY_HARNESS_TIMELINE") == "1" ? Console.Error : null;

    public ResidentMemorySampler()
    {
        _peak = ProcessMemory.ResidentBytes();
        _thread = new Thread(Sample) { IsBackground = true, Name = "rss-sampler" };
        _thread.Start();
    }

    public long PeakBytes => Interlocked.Read(ref _peak);

    /// <summary>Most memory the GC had committed at a sample (live and dead objects, before they are collected).</summary>
    public long PeakManagedCommittedBytes => Interlocked.Read(ref _peakManaged);

    public void Dispose()
    {
        _stop.Set();
        _thread.Join();
        _stop.Dispose();
    }

    private void Sample()
    {
        do
        {
            var rss = ProcessMemory.ResidentBytes();
            if (rss > Interlocked.Read(ref _peak))
            {
                Interlocked.Exchange(ref _peak, rss);
            }

            var managed = GC.GetGCMemoryInfo().TotalCommittedBytes;
            if (managed > Interlocked.Read(ref _peakManaged))
            {
                Interlocked.Exchange(ref _peakManaged, managed);
            }

            if (Timeline is { } timeline && Environment.TickCount64 >= _nextLine)
            {
                _nextLine = Environment.TickCount64 + 100;
                var info = GC.GetGCMemoryInfo();
                timeline.WriteLine($"{Environment.TickCount64 % 100000,6} rss={rss >> 20,4}MiB gc_committed_at_last_gc={managed >> 20,4}MiB gc_heap={info.HeapSizeBytes >> 20,4}MiB gen2={GC.CollectionCount(2)} gen0={GC.CollectionCount(0)} alloc={GC.GetTotalAllocatedBytes() >> 20}MiB heap_now={GC.GetTotalMemory(false) >> 20}MiB fragmented={info.FragmentedBytes >> 20}MiB gen2_after={info.GenerationInfo[2].SizeAfterBytes >> 20}MiB loh_after={info.GenerationInfo[3].SizeAfterBytes >> 20}MiB poh_after={info.GenerationInfo[4].SizeAfterBytes >> 20}MiB");
            }

        }
        while (!_stop.Wait(SamplePeriod));
    }
}
