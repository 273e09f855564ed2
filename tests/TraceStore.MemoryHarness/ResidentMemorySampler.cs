using TraceStore.Testing;

namespace TraceStore.MemoryHarness;

/// <summary>Samples this process's resident memory every few milliseconds on a thread of its own and keeps the maximum.</summary>
internal sealed class ResidentMemorySampler : IDisposable
{
    private readonly Thread _thread;
    private volatile bool _stop;
    private long _peak;
    private long _peakManaged;

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
        _stop = true;
        _thread.Join();
    }

    private void Sample()
    {
        while (!_stop)
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

            Thread.Sleep(2);
        }
    }
}
