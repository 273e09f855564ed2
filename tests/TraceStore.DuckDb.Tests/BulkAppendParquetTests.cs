using System.Text;
using TraceStore.Testing;

namespace TraceStore.DuckDb.Tests;

/// <summary>1M span-like rows through the chunk appender, out to a ZSTD Parquet file, and back with a filter.</summary>
public sealed class BulkAppendParquetTests : InMemoryDatabase
{
    private const int Rows = 1_000_000;

    [Fact]
    public void Million_rows_append_copy_to_zstd_parquet_and_filter_back_exactly()
    {
        using var folder = new TempDirectory();
        Connection.Execute("CREATE TABLE spans (id BIGINT, trace_id VARCHAR, name VARCHAR, duration_ms DOUBLE, is_error BOOLEAN, attrs VARCHAR)");

        long sumIds = 0, sumIdsInRange = 0, errorsInRange = 0;
        double sumDurations = 0;
        long attrBytes = 0;
        using (var appender = Connection.CreateChunkAppender("spans"))
        {
            Span<byte> traceId = stackalloc byte[32];
            for (long i = 0; i < Rows; i++)
            {
                var row = appender.AddRow();
                appender.Column(0).SetInt64(row, i);
                Encoding.ASCII.GetBytes((i / 20).ToString("x32"), traceId);
                appender.Column(1).SetUtf8(row, traceId);
                appender.Column(2).SetString(row, (i % 3) switch { 0 => "llm", 1 => "retriever.search", _ => "tool" });
                var duration = (i % 1000) / 4.0;
                appender.Column(3).SetDouble(row, duration);
                var isError = i % 97 == 0;
                if (i % 11 == 0)
                {
                    appender.Column(4).SetNull(row);
                }
                else
                {
                    appender.Column(4).SetBoolean(row, isError);
                }

                var attrs = $"{{\"gen_ai.request.model\":\"model-{i % 7}\",\"seq\":{i},\"note\":\"ünïcödé\"}}";
                attrBytes += Encoding.UTF8.GetByteCount(attrs);
                appender.Column(5).SetString(row, attrs);

                sumIds += i;
                sumDurations += duration;
                if (i is >= 400_000 and < 400_500)
                {
                    sumIdsInRange += i;
                    errorsInRange += i % 11 != 0 && isError ? 1 : 0;
                }
            }

            appender.Close();
            Assert.Equal(Rows, appender.RowCount);
        }

        var file = folder.File("spans.parquet");
        Connection.Execute($"COPY spans TO {DuckDbSql.Literal(file)} (FORMAT parquet, COMPRESSION zstd)");

        using (var meta = Connection.Query("SELECT DISTINCT compression FROM parquet_metadata($1)", file))
        {
            Assert.Equal(["ZSTD"], meta.ReadAllRows().Select(r => (string?)r[0]));
        }

        var totals = Row("SELECT count(*), sum(id), sum(duration_ms), sum(strlen(attrs)), count(is_error) FROM read_parquet($1)", file);
        Assert.Equal((long)Rows, totals[0]);
        Assert.Equal((Int128)sumIds, totals[1]);
        Assert.Equal(sumDurations, (double)totals[2]!); // multiples of 0.25: every partial sum is exact
        Assert.Equal((Int128)attrBytes, totals[3]);
        Assert.Equal((long)(Rows - ((Rows + 10) / 11)), totals[4]);

        var filtered = Row(
            "SELECT count(*), sum(id), count(*) FILTER (WHERE is_error), min(trace_id) FROM read_parquet($1) WHERE id >= $2 AND id < $3",
            file, 400_000L, 400_500L);
        Assert.Equal(500L, filtered[0]);
        Assert.Equal((Int128)sumIdsInRange, filtered[1]);
        Assert.Equal(errorsInRange, filtered[2]);
        Assert.Equal((400_000L / 20).ToString("x32"), filtered[3]);

        var mismatches = Row("SELECT count(*) FROM (SELECT * FROM spans EXCEPT ALL SELECT * FROM read_parquet($1))", file);
        Assert.Equal(0L, mismatches[0]);
    }

    private object?[] Row(string sql, params object?[] parameters)
    {
        using var result = Connection.Query(sql, parameters);
        return Assert.Single(result.ReadAllRows());
    }
}
