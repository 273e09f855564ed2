using System.Diagnostics;

namespace TraceStore.Server.Cli;

/// <summary>
/// Watches the process while a compaction benchmark step runs: the peak resident memory (Linux's VmHWM after
/// resetting it through <c>/proc/self/clear_refs</c>; where that reset is refused, the largest VmRSS sampled) and the
/// peak bytes in DuckDB's spill folder (sampled every 5 ms, so a spill shorter than that can be missed), plus the
/// process's processor time. Dispose stops the sampling; read the figures after.
/// </summary>
internal sealed class MergeMonitor : IDisposable
{
    private readonly string _spillFolder;
    private readonly Thread _sampler;
    private readonly TimeSpan _cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
    private readonly bool _peakReset;
    private volatile bool _stopping;
    private long _peakSampledRss;
    private long _peakSpill;

    public MergeMonitor(string spillFolder)
    {
        _spillFolder = spillFolder;
        RssBeforeBytes = Status("VmRSS:");
        _peakReset = ResetPeak();
        _sampler = new Thread(Sample) { IsBackground = true, Name = "bench-compact-monitor" };
        _sampler.Start();
    }

    /// <summary>Resident bytes when the step began.</summary>
    public long RssBeforeBytes { get; }

    /// <summary>Peak resident bytes during the step (valid after Dispose).</summary>
    public long PeakRssBytes { get; private set; }

    /// <summary>Peak bytes of DuckDB's spill files seen during the step (valid after Dispose).</summary>
    public long PeakSpillBytes => Interlocked.Read(ref _peakSpill);

    /// <summary>Processor time of the whole process during the step (valid after Dispose).</summary>
    public TimeSpan Cpu { get; private set; }

    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        _sampler.Join();
        Cpu = Process.GetCurrentProcess().TotalProcessorTime - _cpuBefore;
        var sampled = Interlocked.Read(ref _peakSampledRss);
        PeakRssBytes = _peakReset ? Math.Max(Status("VmHWM:"), sampled) : sampled;
    }

    private void Sample()
    {
        while (!_stopping)
        {
            Raise(ref _peakSampledRss, Status("VmRSS:"));
            Raise(ref _peakSpill, FolderBytes(_spillFolder));
            Thread.Sleep(5);
        }
    }

    private static void Raise(ref long peak, long value)
    {
        for (var seen = Interlocked.Read(ref peak); value > seen; seen = Interlocked.Read(ref peak))
        {
            if (Interlocked.CompareExchange(ref peak, value, seen) == seen)
            {
                return;
            }
        }
    }

    private static long FolderBytes(string folder)
    {
        try
        {
            return Directory.Exists(folder) ? new DirectoryInfo(folder).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length) : 0;
        }
        catch (IOException)
        {
            return 0; // A spill file removed while listed: the next sample sees the folder again.
        }
    }

    /// <summary>Writing 5 to clear_refs resets VmHWM to the current resident size (Linux 4.0 and later).</summary>
    private static bool ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>A kB field of /proc/self/status, in bytes (0 where there is no such file).</summary>
    private static long Status(string field)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith(field, StringComparison.Ordinal))
                {
                    return long.Parse(line[field.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (IOException)
        {
        }

        return 0;
    }
}
