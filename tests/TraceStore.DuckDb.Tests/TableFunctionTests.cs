using TraceStore.DuckDb.TableFunctions;
using TraceStore.Testing;

namespace TraceStore.DuckDb.Tests;

public sealed class TableFunctionTests : InMemoryDatabase
{
    [Fact]
    public void Table_function_rows_join_and_union_with_a_parquet_file()
    {
        using var folder = new TempDirectory();
        var file = folder.File("n.parquet");
        Connection.Execute($"COPY (SELECT i AS n, 'p' || i AS tag FROM range(10000) t(i)) TO {DuckDbSql.Literal(file)} (FORMAT parquet, COMPRESSION zstd)");
        Connection.RegisterTableFunction(new RangeFunction());

        using (var joined = Connection.Query("SELECT count(*), sum(c.id), min(p.tag) FROM cs_range(5000) c JOIN read_parquet($1) p ON p.n = c.id", file))
        {
            var row = Assert.Single(joined.ReadAllRows());
            Assert.Equal(5000L, row[0]);
            Assert.Equal((Int128)(4999L * 5000 / 2), row[1]);
            Assert.Equal("p0", row[2]);
        }

        using (var unioned = Connection.Query("SELECT label FROM cs_range(1000) UNION ALL SELECT tag FROM read_parquet($1) WHERE n < 1000", file))
        {
            var labels = unioned.ReadAllRows().Select(r => (string)r[0]!).ToList();
            Assert.Equal(2000, labels.Count);
            Assert.Equal(1000, labels.Count(l => l.StartsWith("label-", StringComparison.Ordinal)));
            Assert.Contains("label-999", labels);
            Assert.Contains("p999", labels);
        }
    }

    [Fact]
    public void Table_function_scans_many_chunks_with_exact_totals()
    {
        Connection.RegisterTableFunction(new RangeFunction());

        using var result = Connection.Query("SELECT count(*), sum(id), count(label) FROM cs_range($1)", 1_000_003L);

        Assert.Equal(new object?[] { 1_000_003L, (Int128)(1_000_002L * 1_000_003 / 2), 1_000_003L }, Assert.Single(result.ReadAllRows()));
    }

    [Fact]
    public void Projection_pushdown_passes_only_the_columns_a_query_reads()
    {
        var function = new RangeFunction();
        Connection.RegisterTableFunction(function);

        using (var result = Connection.Query("SELECT label FROM cs_range(3)"))
        {
            Assert.Equal(["label-0", "label-1", "label-2"], result.ReadAllRows().Select(r => (string?)r[0]));
        }

        Assert.Equal([1], function.LastProjection);

        using (var both = Connection.Query("SELECT label, id FROM cs_range(2)"))
        {
            Assert.Equal(2, both.ReadAllRows().Count);
        }

        Assert.Contains(0, function.LastProjection!);
        Assert.Contains(1, function.LastProjection!);
    }

    [Fact]
    public void Exception_inside_a_scan_becomes_the_query_error_and_the_process_survives()
    {
        Connection.RegisterTableFunction(new RangeFunction());

        var error = Assert.Throws<DuckDbException>(() =>
        {
            using var result = Connection.Query("SELECT sum(id) FROM cs_range($1)", -2L);
            result.ReadAllRows();
        });

        Assert.Contains("cs_range: InvalidOperationException: deliberate failure after the first chunk", error.Message, StringComparison.Ordinal);
        using var after = Connection.Query("SELECT count(*) FROM cs_range(10)");
        Assert.Equal(10L, Assert.Single(after.ReadAllRows())[0]);
    }

    [Fact]
    public void Exception_inside_bind_becomes_the_query_error()
    {
        Connection.RegisterTableFunction(new RangeFunction());

        var error = Assert.Throws<DuckDbException>(() => Connection.Query("SELECT * FROM cs_range(-1)").Dispose());

        Assert.Contains("cs_range: ArgumentOutOfRangeException", error.Message, StringComparison.Ordinal);
        Assert.Contains("n must be >= 0", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Scan_state_is_freed_after_each_query()
    {
        Connection.RegisterTableFunction(new RangeFunction());
        using (var warm = Connection.Query("SELECT count(*) FROM cs_range(10)"))
        {
            warm.ReadAllRows();
        }

        var before = TableFunctionRegistration.LiveStates;
        for (var i = 0; i < 200; i++)
        {
            using var result = Connection.Query("SELECT count(*) FROM cs_range(10)");
            result.ReadAllRows();
        }

        Assert.Equal(before, TableFunctionRegistration.LiveStates);
    }

    [Fact]
    public void Unsupported_parameter_type_is_refused_at_registration()
    {
        var error = Assert.Throws<ArgumentException>(() => Connection.RegisterTableFunction(new BlobParameterFunction()));

        Assert.Contains("BLOB", error.Message, StringComparison.Ordinal);
    }

    /// <summary><c>cs_range(n)</c> → (id BIGINT, label VARCHAR) for id in [0, n). n = -2 fails after one chunk; n &lt; 0 otherwise fails at bind.</summary>
    private sealed class RangeFunction() : DuckDbTableFunction("cs_range", DuckDbLogicalType.BigInt)
    {
        public IReadOnlyList<int>? LastProjection { get; private set; }

        public override DuckDbTableBinding Bind(DuckDbTableFunctionArguments arguments)
        {
            var n = arguments.GetInt64(0);
            ArgumentOutOfRangeException.ThrowIfNegative(n == -2 ? 0 : n, "n must be >= 0; n");
            return new DuckDbTableBinding(
                [new("id", DuckDbLogicalType.BigInt), new("label", DuckDbLogicalType.Varchar)],
                projection =>
                {
                    LastProjection = projection;
                    return new Scan(n, projection);
                },
                estimatedRows: Math.Max(n, 0));
        }

        private sealed class Scan(long n, IReadOnlyList<int> projection) : IDuckDbTableScan
        {
            private long _next;

            public int Fill(DuckDbTableOutput output)
            {
                if (n == -2 && _next > 0)
                {
                    throw new InvalidOperationException("deliberate failure after the first chunk");
                }

                var limit = n == -2 ? DuckDbTableOutput.Capacity : n;
                var count = (int)Math.Min(DuckDbTableOutput.Capacity, limit - _next);
                for (var c = 0; c < projection.Count; c++)
                {
                    var column = output.Column(c);
                    for (var row = 0; row < count; row++)
                    {
                        if (projection[c] == 0)
                        {
                            column.SetInt64(row, _next + row);
                        }
                        else
                        {
                            column.SetString(row, $"label-{_next + row}");
                        }
                    }
                }

                _next += count;
                return count;
            }
        }
    }

    private sealed class BlobParameterFunction() : DuckDbTableFunction("blobby", DuckDbLogicalType.Blob)
    {
        public override DuckDbTableBinding Bind(DuckDbTableFunctionArguments arguments) =>
            throw new InvalidOperationException("never bound");
    }
}
