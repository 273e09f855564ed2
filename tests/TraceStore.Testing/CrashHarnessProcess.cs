using System.Diagnostics;
using System.Globalization;

namespace TraceStore.Testing;

/// <summary>What a killed crash-harness run printed: the acknowledged request ids, and the crash point it stopped at
/// (null when it was killed after a delay instead).</summary>
public sealed record CrashHarnessRun(IReadOnlyList<long> Acknowledged, string? CrashPoint);

/// <summary>
/// Runs <c>tests/TraceStore.CrashHarness</c> as a child process and kills it with SIGKILL: after a delay, or as soon as
/// it reports that it stopped at its crash point. Everything it acknowledged before it died is returned.
/// </summary>
public static class CrashHarnessProcess
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Starts the harness with <paramref name="arguments"/> (see its Program.cs) and kills it
    /// <paramref name="lifetime"/> after it is ready.</summary>
    public static Task<CrashHarnessRun> RunAndKillAfterAsync(IReadOnlyList<string> arguments, TimeSpan lifetime) =>
        RunAsync(arguments, (_, _, _) => Task.Delay(lifetime));

    /// <summary>Starts the harness with <paramref name="arguments"/> (with a workload and a crash point) and kills it
    /// as soon as it prints <c>CRASH-POINT</c>. Throws if it has not within <paramref name="timeout"/>.</summary>
    public static Task<CrashHarnessRun> RunAndKillAtCrashPointAsync(IReadOnlyList<string> arguments, TimeSpan timeout) =>
        RunAsync(arguments, async (crashPoint, exited, errors) =>
        {
            if (await Task.WhenAny(crashPoint, exited, Task.Delay(timeout)) != crashPoint)
            {
                throw new TimeoutException($"the crash harness {(exited.IsCompleted ? "exited" : "did not reach its crash point")} within {timeout.TotalSeconds:0} s; stderr: {Text(errors)}");
            }
        });

    private static async Task<CrashHarnessRun> RunAsync(IReadOnlyList<string> arguments, Func<Task, Task, System.Text.StringBuilder, Task> killWhen)
    {
        var start = new ProcessStartInfo(DotnetHost.Path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(HarnessPaths.Assembly("TraceStore.CrashHarness"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var crashPoint = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var acked = new List<long>();
        var errors = new System.Text.StringBuilder();
        var reader = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                if (line.StartsWith("READY", StringComparison.Ordinal))
                {
                    ready.TrySetResult();
                }
                else if (line.StartsWith("ACK ", StringComparison.Ordinal))
                {
                    acked.Add(long.Parse(line.AsSpan(4), CultureInfo.InvariantCulture));
                }
                else if (line.StartsWith("CRASH-POINT ", StringComparison.Ordinal))
                {
                    crashPoint.TrySetResult(line["CRASH-POINT ".Length..]);
                }
            }
        });
        var errorReader = Task.Run(async () =>
        {
            while (await process.StandardError.ReadLineAsync() is { } line)
            {
                lock (errors)
                {
                    errors.AppendLine(line);
                }
            }
        });

        try
        {
            var exited = process.WaitForExitAsync();
            var started = await Task.WhenAny(ready.Task, exited, Task.Delay(StartTimeout));
            if (started != ready.Task)
            {
                throw new InvalidOperationException($"the crash harness did not start: {(process.HasExited ? "it exited" : "timed out")}; stderr: {Text(errors)}");
            }

            await killWhen(crashPoint.Task, exited, errors);
        }
        finally
        {
            // SIGKILL: no finalizers, no flushes, no disposal; whatever is on disk is what a crash leaves.
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            await reader;
            await errorReader;
        }

        return new CrashHarnessRun(acked, crashPoint.Task.IsCompletedSuccessfully ? crashPoint.Task.Result : null);
    }

    private static string Text(System.Text.StringBuilder errors)
    {
        lock (errors)
        {
            return errors.ToString();
        }
    }
}
