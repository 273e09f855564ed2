using System.Diagnostics;
using TraceStore.Fuzz.Targets;

namespace TraceStore.Fuzz;

/// <summary>Every fuzz target; the smoke test runs each of them.</summary>
public static class FuzzTargets
{
    public static IReadOnlyList<Func<IFuzzTarget>> All { get; } =
        [() => new ProtobufTarget(), () => new JsonTarget(), () => new CompressedTarget()];
}

/// <summary>A problem the fuzzer found: an unexpected exception, a slow input, or one that allocated past the bound.</summary>
public sealed record FuzzFinding(string Target, string Kind, string Detail, byte[] Input);

/// <summary>What one fuzz run did.</summary>
public sealed record FuzzReport(string Target, long Executions, long Accepted, long Refused, TimeSpan Elapsed, double SlowestMilliseconds, long MostBytesAllocated, IReadOnlyList<FuzzFinding> Findings)
{
    public double ExecutionsPerSecond => Executions / Math.Max(Elapsed.TotalSeconds, 1e-9);

    public override string ToString() =>
        $"{Target}: {Executions:N0} inputs in {Elapsed.TotalSeconds:F1} s ({ExecutionsPerSecond:N0}/s), {Accepted:N0} decoded, {Refused:N0} refused with the typed error, " +
        $"slowest {SlowestMilliseconds:F1} ms, most allocated {MostBytesAllocated / 1024.0:N0} KiB, {Findings.Count} finding(s)";
}

/// <summary>
/// Runs one target for a time budget: mutates seeds (and inputs that decoded, kept up to a cap so mutation
/// reaches deeper structure), and checks each run against the criterion: return or the target's typed error,
/// within <see cref="SlowThreshold"/>, allocating at most <see cref="MaxBytesPerInput"/>. The loop runs on its own
/// thread so a hang is reported instead of blocking the caller forever.
/// </summary>
public static class FuzzRunner
{
    public static readonly TimeSpan SlowThreshold = TimeSpan.FromSeconds(2);
    public const long MaxBytesPerInput = 64L << 20;
    private const int MaxCorpus = 4096;

    public static FuzzReport Run(IFuzzTarget target, TimeSpan budget, int seed)
    {
        FuzzReport? report = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                report = Loop(target, budget, seed);
            }
            catch (Exception e)
            {
                failure = e;
            }
        }, maxStackSize: 16 << 20)
        { IsBackground = true, Name = $"fuzz-{target.Name}" };
        thread.Start();
        if (!thread.Join(budget + SlowThreshold + TimeSpan.FromSeconds(30)))
        {
            return new FuzzReport(target.Name, 0, 0, 0, budget, double.PositiveInfinity, 0,
                [new FuzzFinding(target.Name, "hang", "the fuzz loop did not finish: an input made the parser loop", [])]);
        }

        if (failure is not null)
        {
            throw new InvalidOperationException($"fuzz loop for {target.Name} failed outside the target", failure);
        }

        return report!;
    }

    private static FuzzReport Loop(IFuzzTarget target, TimeSpan budget, int seed)
    {
        var random = new Random(seed);
        var mutator = new Mutator(random);
        var corpus = target.Seeds(random).ToList();
        var findings = new List<FuzzFinding>();
        long executions = 0, accepted = 0, refused = 0, mostAllocated = 0;
        var slowest = 0.0;
        var clock = Stopwatch.StartNew();
        var timer = new Stopwatch();
        while (clock.Elapsed < budget)
        {
            var input = executions < corpus.Count ? corpus[(int)executions] : mutator.Mutate(corpus[random.Next(corpus.Count)], corpus);
            var before = GC.GetAllocatedBytesForCurrentThread();
            timer.Restart();
            try
            {
                target.Run(input, random.Next());
                accepted++;
                if (corpus.Count < MaxCorpus && executions >= corpus.Count)
                {
                    corpus.Add(input);
                }
            }
            catch (Exception e) when (target.ExpectedError.IsInstanceOfType(e))
            {
                refused++;
            }
            catch (Exception e)
            {
                findings.Add(new FuzzFinding(target.Name, "exception", e.ToString(), input));
            }

            timer.Stop();
            executions++;
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            mostAllocated = Math.Max(mostAllocated, allocated);
            slowest = Math.Max(slowest, timer.Elapsed.TotalMilliseconds);
            if (timer.Elapsed > SlowThreshold)
            {
                findings.Add(new FuzzFinding(target.Name, "slow", $"{timer.Elapsed.TotalMilliseconds:F0} ms for {input.Length} bytes", input));
            }

            if (allocated > MaxBytesPerInput)
            {
                findings.Add(new FuzzFinding(target.Name, "memory", $"{allocated:N0} bytes allocated for {input.Length} bytes of input", input));
            }
        }

        return new FuzzReport(target.Name, executions, accepted, refused, clock.Elapsed, slowest, mostAllocated, findings);
    }
}
