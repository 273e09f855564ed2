using System.Collections.Concurrent;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace TraceStore.Benchmarks.Infrastructure;

/// <summary>
/// Rows/s and MB/s columns: a benchmark records what one operation processes with <see cref="Record"/>
/// (in its setup), and the column divides by the measured mean. Figures are per operation, so they stay
/// right with OperationsPerInvoke. MB are 10^6 bytes of raw input (what the caller handed over, before any
/// compression).
/// </summary>
public sealed class ThroughputColumn(ThroughputColumn.Measure measure) : IColumn
{
    private static readonly ConcurrentDictionary<string, (long Rows, long Bytes)> Work = new();

    public enum Measure
    {
        Rows,
        Bytes,
    }

    public string Id => $"Throughput.{measure}";

    public string ColumnName => measure == Measure.Rows ? "Rows/s" : "MB/s";

    public bool AlwaysShow => false;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => (int)measure;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => measure == Measure.Rows
        ? "Rows processed per second (rows per operation / mean)"
        : "Raw input megabytes (10^6 B) processed per second";

    /// <summary>Declares the work one operation of <paramref name="method"/> does, for the given parameter values
    /// (in the order the benchmark declares its parameters; none for an unparameterised benchmark).</summary>
    public static void Record(string method, long rows, long bytes, params object[] parameterValues) =>
        Work[Key(method, parameterValues)] = (rows, bytes);

    private static string Key(string method, IEnumerable<object?> parameterValues) => $"{method}|{string.Join(",", parameterValues)}";

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var report = summary[benchmarkCase];
        var key = Key(benchmarkCase.Descriptor.WorkloadMethod.Name, benchmarkCase.Parameters.Items.Select(p => p.Value));
        if (report?.ResultStatistics is not { } stats || !Work.TryGetValue(key, out var work))
        {
            return "-";
        }

        var seconds = stats.Mean / 1e9;
        return measure == Measure.Rows
            ? (work.Rows / seconds).ToString("N0", System.Globalization.CultureInfo.InvariantCulture)
            : (work.Bytes / seconds / 1e6).ToString("N1", System.Globalization.CultureInfo.InvariantCulture);
    }

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public bool IsAvailable(Summary summary) => !Work.IsEmpty;
}
