using BenchmarkDotNet.Attributes;
using TraceStore.Benchmarks.Infrastructure;

namespace TraceStore.Benchmarks.DuckDb;

/// <summary>
/// Loading 1M span-like rows into a DuckDB table: whole data chunks filled in place (TraceStore's path) against
/// DuckDB's row appender (one native call per value). <see cref="InsertStatementBenchmarks"/> is the third way.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(MacroConfig))]
public class AppendBenchmarks : SpanTableBenchmark
{
    [Benchmark(Baseline = true)]
    public long ChunkAppender() => AppendChunks(Connection, Spans);

    [Benchmark]
    public long RowAppender()
    {
        using var appender = Connection.CreateRowAppender("spans");
        for (var i = 0; i < Spans.Count; i++)
        {
            appender.AppendUtf8(Spans.TraceId(i));
            appender.AppendUtf8(Spans.SpanId(i));
            if (Spans.HasParent(i))
            {
                appender.AppendUtf8(Spans.ParentSpanId(i));
            }
            else
            {
                appender.AppendNull();
            }

            appender.AppendUtf8(Spans.Name(i));
            appender.Append(Spans.Kind[i]);
            appender.Append(Spans.StartNs[i]);
            appender.Append(Spans.EndNs[i]);
            appender.Append(Spans.StatusCode[i]);
            appender.AppendUtf8(Spans.Attributes(i));
            appender.EndRow();
        }

        appender.Close();
        return Spans.Count;
    }
}
