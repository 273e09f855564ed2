using System.Text;

namespace TraceStore.DuckDb.Tests;

/// <summary>Every supported type goes bind → query → read, through prepared parameters and chunk readers.</summary>
public sealed class TypeRoundTripTests : InMemoryDatabase
{
    public static TheoryData<string> Strings => new()
    {
        "",
        "a",
        "abcdefghijkl",          // 12 bytes: the longest inline string_t
        "abcdefghijklm",         // 13 bytes: the shortest pointer string_t
        "日本語",                 // 9 bytes of 3-byte UTF-8, inline
        "ü1234567890",           // 12 bytes with a 2-byte character, inline at the boundary
        "ü12345678901",          // 13 bytes, pointer
        "emoji 🙂 and ß and Ω",
        "embedded\0nul",
        new string('x', 100_000),
    };

    [Theory]
    [MemberData(nameof(Strings))]
    public void Varchar_round_trips_exactly(string value)
    {
        Assert.Equal(value, Scalar("SELECT $1::VARCHAR", value));
        Assert.Equal(Encoding.UTF8.GetByteCount(value), Convert.ToInt32(Scalar("SELECT strlen($1::VARCHAR)", value)));
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(1L)]
    [InlineData(-1L)]
    [InlineData(long.MinValue)]
    [InlineData(long.MaxValue)]
    public void Bigint_round_trips_exactly(long value) => Assert.Equal(value, Scalar("SELECT $1::BIGINT", value));

    [Theory]
    [InlineData(int.MinValue)]
    [InlineData(int.MaxValue)]
    public void Integer_round_trips_exactly(int value) => Assert.Equal(value, Scalar("SELECT $1::INTEGER", value));

    [Theory]
    [InlineData(0.0)]
    [InlineData(-0.5)]
    [InlineData(double.Epsilon)]
    [InlineData(double.MaxValue)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Double_round_trips_exactly(double value) => Assert.Equal(value, Scalar("SELECT $1::DOUBLE", value));

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Boolean_round_trips_exactly(bool value) => Assert.Equal(value, Scalar("SELECT $1::BOOLEAN", value));

    [Theory]
    [InlineData("2026-11-21T10:20:30.1234560Z")]
    [InlineData("1970-01-01T00:00:00.0000000Z")]
    [InlineData("1969-12-31T23:59:59.9999990Z")]
    [InlineData("0001-01-01T00:00:00.0000000Z")]
    [InlineData("9999-12-31T23:59:59.9999990Z")]
    public void Timestamp_round_trips_to_the_microsecond(string iso)
    {
        var value = DateTime.Parse(iso, null, System.Globalization.DateTimeStyles.RoundtripKind);

        var read = (DateTime)Scalar("SELECT $1::TIMESTAMP", value)!;

        Assert.Equal(value, read);
        Assert.Equal(DateTimeKind.Utc, read.Kind);
    }

    [Fact]
    public void Timestamp_binding_truncates_below_a_microsecond()
    {
        var value = new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc).AddTicks(1234567);

        Assert.Equal(value.AddTicks(-7), Scalar("SELECT $1::TIMESTAMP", value));
    }

    [Fact]
    public void Blob_round_trips_every_byte_and_the_empty_blob()
    {
        var all = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();

        Assert.Equal(all, Scalar("SELECT $1::BLOB", all));
        Assert.Equal(Array.Empty<byte>(), Scalar("SELECT $1::BLOB", Array.Empty<byte>()));
        Assert.Equal(new byte[] { 1, 2, 3 }, Scalar("SELECT $1::BLOB", new byte[] { 1, 2, 3 }));
    }

    [Theory]
    [InlineData("VARCHAR")]
    [InlineData("BIGINT")]
    [InlineData("INTEGER")]
    [InlineData("DOUBLE")]
    [InlineData("BOOLEAN")]
    [InlineData("TIMESTAMP")]
    [InlineData("BLOB")]
    [InlineData("BIGINT[]")]
    [InlineData("STRUCT(a INTEGER)")]
    [InlineData("MAP(VARCHAR, BIGINT)")]
    public void Null_round_trips_as_null_for_every_type(string sqlType)
    {
        using var statement = Connection.Prepare($"SELECT $1::{sqlType}");
        statement.BindNull(1);
        using var result = statement.Execute();

        Assert.Null(Assert.Single(result.ReadAllRows())[0]);
    }

    [Fact]
    public void Bigint_list_round_trips_with_null_elements()
    {
        var list = (List<object?>)Scalar("SELECT $1::BIGINT[]", (object)new long?[] { 1, null, long.MaxValue, -5 })!;

        Assert.Equal(new object?[] { 1L, null, long.MaxValue, -5L }, list);
    }

    [Fact]
    public void Varchar_list_round_trips_inline_pointer_and_unicode_strings()
    {
        string?[] values = ["", "abcdefghijkl", "abcdefghijklm", "日本語テキスト🙂", null];

        var list = (List<object?>)Scalar("SELECT $1::VARCHAR[]", (object)values)!;

        Assert.Equal(values, list);
    }

    [Fact]
    public void Nested_list_round_trips()
    {
        var nested = new List<long[]> { new long[] { 1, 2 }, Array.Empty<long>(), new long[] { 3 } };

        var read = (List<object?>)Scalar("SELECT $1::BIGINT[][]", (object)nested)!;

        Assert.Equal(3, read.Count);
        Assert.Equal(new object?[] { 1L, 2L }, (List<object?>)read[0]!);
        Assert.Empty((List<object?>)read[1]!);
        Assert.Equal(new object?[] { 3L }, (List<object?>)read[2]!);
    }

    [Fact]
    public void Empty_list_binds_with_an_explicit_element_type()
    {
        using var statement = Connection.Prepare("SELECT len($1::VARCHAR[]), $1::VARCHAR[]");
        statement.BindList(1, DuckDbLogicalType.Varchar, Array.Empty<string>());
        using var result = statement.Execute();

        var row = Assert.Single(result.ReadAllRows());
        Assert.Equal(0L, row[0]);
        Assert.Empty((List<object?>)row[1]!);
    }

    [Fact]
    public void List_of_other_types_round_trips()
    {
        Assert.Equal(new object?[] { true, false }, (List<object?>)Scalar("SELECT $1::BOOLEAN[]", (object)new[] { true, false })!);
        Assert.Equal(new object?[] { 1.5, -2.25 }, (List<object?>)Scalar("SELECT $1::DOUBLE[]", (object)new[] { 1.5, -2.25 })!);
        var when = new DateTime(2026, 11, 21, 0, 0, 0, DateTimeKind.Utc);
        Assert.Equal(new object?[] { when }, (List<object?>)Scalar("SELECT $1::TIMESTAMP[]", (object)new[] { when })!);
        Assert.Equal(new object?[] { new byte[] { 0, 255 } }, (List<object?>)Scalar("SELECT $1::BLOB[]", (object)new[] { new byte[] { 0, 255 } })!);
    }

    [Fact]
    public void Struct_reads_back_every_field_including_nested_list_and_null()
    {
        var value = (Dictionary<string, object?>)Scalar(
            "SELECT {'name': $1::VARCHAR, 'count': $2::BIGINT, 'tags': $3::VARCHAR[], 'missing': NULL::DOUBLE}",
            "abcdefghijklm",
            42L,
            (object)new[] { "x", "y" })!;

        Assert.Equal(["name", "count", "tags", "missing"], value.Keys);
        Assert.Equal("abcdefghijklm", value["name"]);
        Assert.Equal(42L, value["count"]);
        Assert.Equal(new object?[] { "x", "y" }, (List<object?>)value["tags"]!);
        Assert.Null(value["missing"]);
    }

    [Fact]
    public void Map_reads_back_keys_and_values_in_order()
    {
        var map = (List<KeyValuePair<object, object?>>)Scalar(
            "SELECT MAP([$1::VARCHAR, $2::VARCHAR], [$3::BIGINT, NULL])", "gen_ai.system", "llm.token_count.total_and_more", 17L)!;

        Assert.Equal(2, map.Count);
        Assert.Equal(new KeyValuePair<object, object?>("gen_ai.system", 17L), map[0]);
        Assert.Equal(new KeyValuePair<object, object?>("llm.token_count.total_and_more", null), map[1]);
    }

    [Fact]
    public void Wider_types_read_back_through_their_getters()
    {
        Assert.Equal(Int128.MaxValue, Scalar("SELECT '170141183460469231731687303715884105727'::HUGEINT"));
        Assert.Equal(123.45m, Scalar("SELECT 123.45::DECIMAL(10, 2)"));
        Assert.Equal(-0.000001m, Scalar("SELECT -0.000001::DECIMAL(38, 6)"));
        Assert.Equal(new DateOnly(2026, 11, 21), Scalar("SELECT DATE '2026-11-21'"));
        Assert.Equal((sbyte)-3, Scalar("SELECT -3::TINYINT"));
        Assert.Equal((short)300, Scalar("SELECT 300::SMALLINT"));
        Assert.Equal(ulong.MaxValue, Scalar("SELECT 18446744073709551615::UBIGINT"));
        Assert.Equal(1.5f, Scalar("SELECT 1.5::FLOAT"));
        Assert.Equal(new DateTime(2026, 1, 1, 0, 0, 1, DateTimeKind.Utc), Scalar("SELECT TIMESTAMP_S '2026-01-01 00:00:01'"));
        Assert.Equal(new DateTime(2026, 1, 1, 0, 0, 0, 1, DateTimeKind.Utc), Scalar("SELECT '2026-01-01 00:00:00.001'::TIMESTAMP_MS"));
    }

    [Fact]
    public void Strings_stored_in_a_table_read_back_inline_and_pointer_layouts_across_chunks()
    {
        Connection.Execute("CREATE TABLE s AS SELECT i, repeat('é', (i % 9)::INTEGER) || repeat('x', (i % 5)::INTEGER) AS v FROM range(10000) t(i)");
        using var result = Connection.Query("SELECT i, v FROM s ORDER BY i");
        var rows = result.ReadAllRows();

        Assert.Equal(10000, rows.Count);
        for (var i = 0; i < rows.Count; i++)
        {
            var expected = new string('é', i % 9) + new string('x', i % 5);
            Assert.Equal((long)i, rows[i][0]);
            Assert.Equal(expected, rows[i][1]);
        }
    }
}
