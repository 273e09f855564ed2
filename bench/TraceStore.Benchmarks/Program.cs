using BenchmarkDotNet.Running;
using TraceStore.Benchmarks.Infrastructure;

BenchmarkSwitcher.FromAssembly(typeof(BenchmarkSettings).Assembly).Run(args, BenchmarkSettings.Create());
