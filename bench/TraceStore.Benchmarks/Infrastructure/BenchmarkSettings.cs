using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace TraceStore.Benchmarks.Infrastructure;

/// <summary>
/// Settings shared by every suite: memory diagnoser, the throughput columns, and one joined summary. Jobs
/// come from each suite's <c>[Config]</c> (<see cref="MacroConfig"/> or <see cref="MicroConfig"/>). All jobs
/// run in process: the 2-core machines cannot afford a child build per suite, and the throughput columns
/// read figures the benchmark records in this process. Workstation GC keeps allocation figures deterministic.
/// </summary>
public static class BenchmarkSettings
{
    public static IConfig Create() =>
        DefaultConfig.Instance
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddColumn(new ThroughputColumn(ThroughputColumn.Measure.Rows), new ThroughputColumn(ThroughputColumn.Measure.Bytes))
            .WithOptions(ConfigOptions.JoinSummary);

    /// <summary>In-process runs are cut off after this long per benchmark (the toolchain's default, 5 minutes, is
    /// shorter than the INSERT baseline's single operation).</summary>
    private static readonly TimeSpan InProcessTimeout = TimeSpan.FromMinutes(30);

    internal static Job InProcess(Job job) =>
        job.WithToolchain(new InProcessEmitToolchain(InProcessTimeout, logOutput: true)).WithGcServer(false);

    internal static Job Macro(int iterations, int warmups = 1) =>
        InProcess(Job.Default)
            .WithStrategy(RunStrategy.Monitoring)
            .WithLaunchCount(1)
            .WithWarmupCount(warmups)
            .WithIterationCount(iterations)
            .WithId($"Macro{iterations}");
}

/// <summary>Macro benchmarks (one operation takes 0.1–30 s): one warm-up, three measured single calls.</summary>
public sealed class MacroConfig : ManualConfig
{
    public MacroConfig() => AddJob(BenchmarkSettings.Macro(iterations: 3));
}

/// <summary>Baselines too slow to repeat (minutes per operation): one cold, measured call.</summary>
public sealed class SingleRunConfig : ManualConfig
{
    public SingleRunConfig() => AddJob(BenchmarkSettings.Macro(iterations: 1, warmups: 0).WithId("Single"));
}

/// <summary>Macro benchmarks cheap enough for five measured calls.</summary>
public sealed class Macro5Config : ManualConfig
{
    public Macro5Config() => AddJob(BenchmarkSettings.Macro(iterations: 5));
}

/// <summary>Micro benchmarks (sub-millisecond operations): BenchmarkDotNet's short run, in process.</summary>
public sealed class MicroConfig : ManualConfig
{
    public MicroConfig() => AddJob(BenchmarkSettings.InProcess(Job.ShortRun).WithId("Micro"));
}
