using System.CommandLine;
using System.Security.Cryptography;
using TraceStore.Fuzz;

// A longer fuzz run than the test suite's smoke run: dotnet run -c Release --project fuzz/TraceStore.Fuzz -- --seconds 300
var seconds = new Option<int>("--seconds") { Description = "Seconds per target.", DefaultValueFactory = _ => 60 };
var seed = new Option<int>("--seed") { Description = "Random seed (runs are reproducible per seed).", DefaultValueFactory = _ => Environment.TickCount };
var target = new Option<string>("--target") { Description = "protobuf, json, compressed or all.", DefaultValueFactory = _ => "all" };
var findings = new Option<DirectoryInfo>("--findings") { Description = "Where inputs that fail are saved.", DefaultValueFactory = _ => new DirectoryInfo("fuzz/findings") };
var root = new RootCommand("In-process mutation fuzzing of TraceStore's OTLP decoders.") { seconds, seed, target, findings };
root.SetAction(result =>
{
    var failed = 0;
    foreach (var create in FuzzTargets.All)
    {
        var fuzzTarget = create();
        if (result.GetValue(target) is not ("all" or null) && result.GetValue(target) != fuzzTarget.Name)
        {
            continue;
        }

        var runSeed = result.GetValue(seed);
        var report = FuzzRunner.Run(fuzzTarget, TimeSpan.FromSeconds(result.GetValue(seconds)), runSeed);
        Console.WriteLine($"{report} (seed {runSeed})");
        foreach (var finding in report.Findings)
        {
            failed++;
            var folder = result.GetValue(findings)!;
            folder.Create();
            var path = Path.Combine(folder.FullName, $"{finding.Target}-{finding.Kind}-{Convert.ToHexString(SHA256.HashData(finding.Input))[..16]}.bin");
            File.WriteAllBytes(path, finding.Input);
            Console.WriteLine($"  {finding.Kind}: {finding.Detail.Split('\n')[0]} -> {path}");
        }
    }

    return failed == 0 ? 0 : 1;
});
return root.Parse(args).Invoke();
