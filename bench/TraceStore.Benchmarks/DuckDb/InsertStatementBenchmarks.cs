using BenchmarkDotNet.Attributes;
using TraceStore.Benchmarks.Infrastructure;

namespace TraceStore.Benchmarks.DuckDb;

/// <summary>
/// The slow baseline: one prepared <c>INSERT ... VALUES ($1, ..., $9)</c> execution per row, all in one
/// transaction, for the same 1M rows as <see cref="AppendBenchmarks"/>. DuckDB spends 100–300 µs per statement,
/// so one operation takes minutes: it is measured once, cold.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(SingleRunConfig))]
public class InsertStatementBenchmarks : SpanTableBenchmark
{
    [Benchmark]
    public long PreparedInsert()
    {
        Connection.Execute("BEGIN TRANSACTION");
        using (var insert = Connection.Prepare("INSERT INTO spans VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
        {
            for (var i = 0; i < Spans.Count; i++)
            {
                insert.BindUtf8(1, Spans.TraceId(i));
                insert.BindUtf8(2, Spans.SpanId(i));
                if (Spans.HasParent(i))
                {
                    insert.BindUtf8(3, Spans.ParentSpanId(i));
                }
                else
                {
                    insert.BindNull(3);
                }

                insert.BindUtf8(4, Spans.Name(i));
                insert.Bind(5, Spans.Kind[i]);
                insert.Bind(6, Spans.StartNs[i]);
                insert.Bind(7, Spans.EndNs[i]);
                insert.Bind(8, Spans.StatusCode[i]);
                insert.BindUtf8(9, Spans.Attributes(i));
                insert.ExecuteNonQuery();
            }
        }

        Connection.Execute("COMMIT");
        return Spans.Count;
    }
}
