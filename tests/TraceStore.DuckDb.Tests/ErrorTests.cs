namespace TraceStore.DuckDb.Tests;

/// <summary>Each kind of misuse or failure surfaces as one clear exception.</summary>
public sealed class ErrorTests : InMemoryDatabase
{
    [Fact]
    public void Bad_sql_throws_a_parser_error_carrying_the_sql()
    {
        const string Sql = "SELEC 1 FROM nowhere";

        var error = Assert.Throws<DuckDbException>(() => Connection.Execute(Sql));

        Assert.StartsWith("Parser Error", error.DuckDbMessage, StringComparison.Ordinal);
        Assert.Equal(Sql, error.Sql);
        Assert.Equal(DuckDbErrorType.Parser, error.ErrorType);
        Assert.Contains(Sql, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_sql_in_prepare_throws_with_the_sql()
    {
        var error = Assert.Throws<DuckDbException>(() => Connection.Prepare("SELECT * FROM missing_table WHERE x = $1"));

        Assert.StartsWith("Catalog Error", error.DuckDbMessage, StringComparison.Ordinal);
        Assert.Contains("missing_table", error.DuckDbMessage, StringComparison.Ordinal);
        Assert.Equal(DuckDbErrorType.Catalog, error.ErrorType);
    }

    [Fact]
    public void Parameter_value_of_the_wrong_type_throws_a_conversion_error_at_execution()
    {
        using var statement = Connection.Prepare("SELECT $1::BIGINT + 1");
        statement.Bind(1, "not a number");

        var error = Assert.Throws<DuckDbException>(() => statement.Execute().Dispose());

        Assert.Equal(DuckDbErrorType.Conversion, error.ErrorType);
        Assert.Contains("not a number", error.DuckDbMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Parameter_index_out_of_range_names_the_count()
    {
        using var statement = Connection.Prepare("SELECT $1::BIGINT");

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => statement.Bind(2, 5L));

        Assert.Contains("the statement has 1 parameter(s)", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => statement.Bind(0, 5L));
    }

    [Fact]
    public void Unbindable_clr_type_is_refused_with_its_name()
    {
        using var statement = Connection.Prepare("SELECT $1");

        var error = Assert.Throws<ArgumentException>(() => statement.Bind(1, new Uri("http://x")));

        Assert.Contains("Uri", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void List_element_that_does_not_fit_the_element_type_names_its_position()
    {
        using var statement = Connection.Prepare("SELECT $1::BIGINT[]");

        var error = Assert.Throws<ArgumentException>(() => statement.BindList(1, DuckDbLogicalType.BigInt, new object[] { 1L, "two" }));

        Assert.Contains("List element 1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Closed_connection_throws_object_disposed_on_every_use()
    {
        using var database = DuckDbDatabase.OpenInMemory();
        var connection = database.Connect();
        using var statement = connection.Prepare("SELECT 1");
        connection.Dispose();

        var fromQuery = Assert.Throws<ObjectDisposedException>(() => connection.Execute("SELECT 1"));
        Assert.Contains("connection is closed", fromQuery.Message, StringComparison.Ordinal);
        Assert.Throws<ObjectDisposedException>(() => connection.Prepare("SELECT 1"));
        Assert.Throws<ObjectDisposedException>(() => statement.Execute());
        Assert.Throws<ObjectDisposedException>(() => connection.CreateChunkAppender("t"));
    }

    [Fact]
    public void Missing_parquet_file_throws_an_io_error_naming_the_file()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}.parquet");

        var error = Assert.Throws<DuckDbException>(() => Connection.Query("SELECT * FROM read_parquet($1)", missing).Dispose());

        Assert.Equal(DuckDbErrorType.IO, error.ErrorType);
        Assert.Contains(missing, error.DuckDbMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Database_in_a_missing_folder_fails_to_open_with_the_path()
    {
        var path = Path.Combine(Path.GetTempPath(), $"no-such-folder-{Guid.NewGuid():N}", "store.duckdb");

        var error = Assert.Throws<DuckDbException>(() => DuckDbDatabase.Open(path));

        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_configuration_option_is_refused_by_name()
    {
        var options = new DuckDbDatabaseOptions { Settings = new Dictionary<string, string> { ["no_such_option"] = "1" } };

        var error = Assert.Throws<DuckDbException>(() => DuckDbDatabase.OpenInMemory(options));

        Assert.Contains("not recognized: no_such_option", error.Message, StringComparison.Ordinal);
        Assert.Equal(DuckDbErrorType.InvalidInput, error.ErrorType);
    }

    [Fact]
    public void Appender_on_a_missing_table_throws_with_the_table_name()
    {
        var error = Assert.Throws<DuckDbException>(() => Connection.CreateChunkAppender("no_such_table"));

        Assert.Contains("no_such_table", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constraint_violation_in_a_bulk_append_throws_at_close_and_keeps_earlier_flushes()
    {
        Connection.Execute("CREATE TABLE t (id BIGINT PRIMARY KEY)");
        using (var first = Connection.CreateChunkAppender("t"))
        {
            first.Column(0).SetInt64(first.AddRow(), 1);
            first.Close();
        }

        var appender = Connection.CreateChunkAppender("t");
        appender.Column(0).SetInt64(appender.AddRow(), 1);
        var error = Assert.Throws<DuckDbException>(appender.Close);
        appender.Dispose();

        Assert.Contains("t", error.Message, StringComparison.Ordinal);
        using var count = Connection.Query("SELECT count(*) FROM t");
        Assert.Equal(1L, Assert.Single(count.ReadAllRows())[0]);
    }

    [Fact]
    public void Writer_type_mismatch_and_invalid_utf8_are_refused_before_reaching_duckdb()
    {
        Connection.Execute("CREATE TABLE t (id BIGINT, s VARCHAR)");
        using var appender = Connection.CreateChunkAppender("t");
        var row = appender.AddRow();

        var mismatch = Assert.Throws<InvalidOperationException>(() => appender.Column(0).SetString(row, "x"));
        Assert.Contains("BIGINT", mismatch.Message, StringComparison.Ordinal);
        var utf8 = Assert.Throws<ArgumentException>(() => appender.Column(1).SetUtf8(row, [0xC3, 0x28]));
        Assert.Contains("not valid UTF-8", utf8.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => appender.Column(0).SetInt64(DuckDbChunkAppender.ChunkCapacity, 1));
        appender.Column(0).SetInt64(row, 1);
        appender.Column(1).SetString(row, "ok");
    }

    [Fact]
    public void Reader_type_mismatch_is_refused()
    {
        using var result = Connection.Query("SELECT 42::BIGINT");
        using var chunk = result.NextChunk()!;

        var error = Assert.Throws<InvalidOperationException>(() => chunk[0].GetString(0));

        Assert.Contains("BIGINT", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Error_while_streaming_a_result_surfaces_as_a_duckdb_exception()
    {
        var rows = 0;
        var error = Assert.Throws<DuckDbException>(() =>
        {
            using var result = Connection.Query(
                "SELECT i, CASE WHEN i < 100000 THEN i ELSE error('row ' || i || ' is bad') END AS v FROM range(200000) t(i)",
                Array.Empty<object?>());
            while (result.NextChunk() is { } chunk)
            {
                using (chunk)
                {
                    rows += chunk.RowCount;
                }
            }
        });

        Assert.Contains("is bad", error.DuckDbMessage, StringComparison.Ordinal);
        Assert.NotNull(error.Sql);
        Assert.True(rows < 200000, $"read {rows} rows before the error");
    }
}
