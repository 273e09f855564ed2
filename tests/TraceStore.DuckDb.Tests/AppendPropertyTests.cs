using System.Collections;
using FsCheck;
using FsCheck.Fluent;

namespace TraceStore.DuckDb.Tests;

/// <summary>
/// Property: for random tables (random column types, NULLs anywhere, unicode strings around the 12/13-byte
/// inline boundary, rows spanning several chunks), bulk append then SELECT returns exactly what was appended.
/// </summary>
public sealed class AppendPropertyTests
{
    private static readonly ColumnKind[] Kinds = Enum.GetValues<ColumnKind>();

    private enum ColumnKind
    {
        BigInt,
        Integer,
        Double,
        Boolean,
        Varchar,
        Blob,
        Timestamp,
        VarcharList,
        BigIntList,
        Struct,
        Map,
    }

    [Fact]
    public void Append_then_read_returns_exactly_what_was_appended()
    {
        using var database = DuckDbDatabase.OpenInMemory(new DuckDbDatabaseOptions { Threads = 2 });
        using var connection = database.Connect();
        var tableNumber = 0;

        Prop.ForAll(TableGen().ToArbitrary(), table =>
        {
            var name = $"t{tableNumber++}";
            var columnsSql = string.Join(", ", table.Kinds.Select((k, i) => $"c{i} {SqlType(k)}"));
            connection.Execute($"CREATE TABLE {name} (row_no BIGINT, {columnsSql})");
            try
            {
                using (var appender = connection.CreateChunkAppender(name))
                {
                    for (var r = 0; r < table.RowCount; r++)
                    {
                        var row = appender.AddRow();
                        appender.Column(0).SetInt64(row, r);
                        for (var c = 0; c < table.Kinds.Length; c++)
                        {
                            Write(appender.Column(c + 1), row, table.Kinds[c], table.Values[c][r]);
                        }
                    }

                    appender.Close();
                }

                using var result = connection.Query($"SELECT * FROM {name} ORDER BY row_no");
                var rows = result.ReadAllRows();
                if (rows.Count != table.RowCount)
                {
                    return false;
                }

                for (var r = 0; r < rows.Count; r++)
                {
                    for (var c = 0; c < table.Kinds.Length; c++)
                    {
                        if (!DeepEquals(Expected(table.Kinds[c], table.Values[c][r]), rows[r][c + 1]))
                        {
                            throw new InvalidOperationException($"row {r} column c{c} ({table.Kinds[c]}): expected {Show(Expected(table.Kinds[c], table.Values[c][r]))}, read {Show(rows[r][c + 1])}");
                        }
                    }
                }

                return true;
            }
            finally
            {
                connection.Execute($"DROP TABLE {name}");
            }
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(60));
    }

    private sealed record Table(ColumnKind[] Kinds, int RowCount, object?[][] Values)
    {
        public override string ToString() => $"{RowCount} rows of ({string.Join(", ", Kinds)})";
    }

    private static Gen<Table> TableGen() =>
        from kinds in Gen.Elements(Kinds).ArrayOf().Where(k => k.Length is > 0 and <= 6)
        from rowCount in Gen.Frequency((3, Gen.Choose(0, 40)), (2, Gen.Choose(2040, 2060)), (1, Gen.Choose(4000, 5000)))
        from values in Gen.CollectToArray(kinds.Select(k => Nullable(ValueGen(k)).ArrayOf(rowCount)))
        select new Table(kinds, rowCount, values.ToArray());

    private static Gen<object?> Nullable(Gen<object> values) =>
        Gen.Frequency((1, Gen.Constant<object?>(null)), (5, values.Select(v => (object?)v)));

    private static Gen<object> ValueGen(ColumnKind kind) => kind switch
    {
        ColumnKind.BigInt => ArbMap.Default.GeneratorFor<long>().Select(v => (object)v),
        ColumnKind.Integer => ArbMap.Default.GeneratorFor<int>().Select(v => (object)v),
        ColumnKind.Double => ArbMap.Default.GeneratorFor<double>().Select(v => (object)v),
        ColumnKind.Boolean => ArbMap.Default.GeneratorFor<bool>().Select(v => (object)v),
        ColumnKind.Varchar => UnicodeString().Select(v => (object)v),
        ColumnKind.Blob => ArbMap.Default.GeneratorFor<byte>().ArrayOf().Select(v => (object)v),
        ColumnKind.Timestamp => Gen.Choose(-1_000_000, 1_000_000).Select(s => (object)(s * 3_600_000_000L + s)),
        ColumnKind.VarcharList => Nullable(UnicodeString().Select(s => (object)s)).ListOf().Select(v => (object)v.ToList()),
        ColumnKind.BigIntList => Nullable(ArbMap.Default.GeneratorFor<long>().Select(v => (object)v)).ListOf().Select(v => (object)v.ToList()),
        ColumnKind.Struct =>
            from a in Nullable(ArbMap.Default.GeneratorFor<long>().Select(v => (object)v))
            from b in Nullable(UnicodeString().Select(v => (object)v))
            select (object)new object?[] { a, b },
        ColumnKind.Map =>
            from keys in UnicodeString().ListOf().Select(k => k.Distinct().ToList())
            from values in Nullable(ArbMap.Default.GeneratorFor<long>().Select(v => (object)v)).ArrayOf(keys.Count)
            select (object)keys.Zip(values, (k, v) => new KeyValuePair<object, object?>(k, v)).ToList(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>Valid Unicode of 0–30 code points from ASCII (with NUL), Latin, CJK and emoji ranges.</summary>
    private static Gen<string> UnicodeString() =>
        Gen.Frequency(
                (4, Gen.Choose(0, 0x7F)),
                (2, Gen.Choose(0xA0, 0x24F)),
                (2, Gen.Choose(0x4E00, 0x4FFF)),
                (1, Gen.Choose(0x1F600, 0x1F64F)))
            .Select(char.ConvertFromUtf32)
            .ListOf()
            .Where(l => l.Count <= 30)
            .Select(string.Concat);

    private static string SqlType(ColumnKind kind) => kind switch
    {
        ColumnKind.BigInt => "BIGINT",
        ColumnKind.Integer => "INTEGER",
        ColumnKind.Double => "DOUBLE",
        ColumnKind.Boolean => "BOOLEAN",
        ColumnKind.Varchar => "VARCHAR",
        ColumnKind.Blob => "BLOB",
        ColumnKind.Timestamp => "TIMESTAMP",
        ColumnKind.VarcharList => "VARCHAR[]",
        ColumnKind.BigIntList => "BIGINT[]",
        ColumnKind.Struct => "STRUCT(a BIGINT, b VARCHAR)",
        ColumnKind.Map => "MAP(VARCHAR, BIGINT)",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private static void Write(DuckDbVectorWriter column, int row, ColumnKind kind, object? value)
    {
        if (value is null)
        {
            column.SetNull(row);
            return;
        }

        switch (kind)
        {
            case ColumnKind.BigInt: column.SetInt64(row, (long)value); break;
            case ColumnKind.Integer: column.SetInt32(row, (int)value); break;
            case ColumnKind.Double: column.SetDouble(row, (double)value); break;
            case ColumnKind.Boolean: column.SetBoolean(row, (bool)value); break;
            case ColumnKind.Varchar: column.SetString(row, (string)value); break;
            case ColumnKind.Blob: column.SetBlob(row, (byte[])value); break;
            case ColumnKind.Timestamp: column.SetTimestampMicros(row, (long)value); break;
            case ColumnKind.VarcharList or ColumnKind.BigIntList:
                {
                    var items = (List<object?>)value;
                    var child = column.BeginList(row, items.Count, out var offset);
                    for (var i = 0; i < items.Count; i++)
                    {
                        if (items[i] is null)
                        {
                            child.SetNull(offset + i);
                        }
                        else if (kind == ColumnKind.VarcharList)
                        {
                            child.SetString(offset + i, (string)items[i]!);
                        }
                        else
                        {
                            child.SetInt64(offset + i, (long)items[i]!);
                        }
                    }

                    break;
                }

            case ColumnKind.Struct:
                {
                    var fields = (object?[])value;
                    Write(column.GetField(0), row, ColumnKind.BigInt, fields[0]);
                    Write(column.GetField(1), row, ColumnKind.Varchar, fields[1]);
                    break;
                }

            case ColumnKind.Map:
                {
                    var entries = (List<KeyValuePair<object, object?>>)value;
                    var pairs = column.BeginList(row, entries.Count, out var offset);
                    for (var i = 0; i < entries.Count; i++)
                    {
                        pairs.GetField(0).SetString(offset + i, (string)entries[i].Key);
                        Write(pairs.GetField(1), offset + i, ColumnKind.BigInt, entries[i].Value);
                    }

                    break;
                }
        }
    }

    /// <summary>What <see cref="DuckDbVector.GetValue"/> should return for an appended value.</summary>
    private static object? Expected(ColumnKind kind, object? value) => value switch
    {
        null => null,
        long micros when kind == ColumnKind.Timestamp => DuckDbTime.FromUnixMicros(micros),
        object?[] fields => new Dictionary<string, object?> { ["a"] = fields[0], ["b"] = fields[1] },
        _ => value,
    };

    private static bool DeepEquals(object? expected, object? actual) => (expected, actual) switch
    {
        (null, null) => true,
        (null, _) or (_, null) => false,
        (byte[] e, byte[] a) => e.AsSpan().SequenceEqual(a),
        (IDictionary e, IDictionary a) => e.Count == a.Count && e.Keys.Cast<object>().All(k => a.Contains(k) && DeepEquals(e[k], a[k])),
        (KeyValuePair<object, object?> e, KeyValuePair<object, object?> a) => DeepEquals(e.Key, a.Key) && DeepEquals(e.Value, a.Value),
        (IList e, IList a) => e.Count == a.Count && Enumerable.Range(0, e.Count).All(i => DeepEquals(e[i], a[i])),
        _ => expected.Equals(actual),
    };

    private static string Show(object? value) => value switch
    {
        null => "NULL",
        string s => $"\"{s}\" ({s.Length} chars)",
        byte[] b => Convert.ToHexString(b),
        IDictionary d => "{" + string.Join(", ", d.Keys.Cast<object>().Select(k => $"{k}: {Show(d[k])}")) + "}",
        IEnumerable e => "[" + string.Join(", ", e.Cast<object?>().Select(Show)) + "]",
        _ => value.ToString() ?? "",
    };
}
