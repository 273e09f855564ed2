using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Text;
using TraceStore.DuckDb.Native;

namespace TraceStore.DuckDb;

/// <summary>
/// A typed, read-only view of one vector of a data chunk. It holds raw pointers into the chunk, so it is
/// valid only while that chunk is alive and unchanged (copy strings out with <see cref="GetString"/> before
/// disposing the chunk). Every getter checks the row bound and the column type, so a wrong call throws
/// instead of reading foreign memory; a NULL row returns whatever bytes the vector holds: check
/// <see cref="IsNull"/> first.
/// </summary>
internal readonly unsafe struct DuckDbVector
{
    private readonly nint _vector;
    private readonly byte* _data;
    private readonly ulong* _validity;

    internal DuckDbVector(nint vector, DuckDbLogicalType type, int count)
    {
        _vector = vector;
        _data = (byte*)NativeMethods.Vectors.GetData(vector);
        _validity = NativeMethods.Vectors.GetValidity(vector);
        Type = type;
        Count = count;
    }

    public DuckDbLogicalType Type { get; }

    /// <summary>Rows in this vector: the chunk's size, or for a LIST child the total of all list lengths.</summary>
    public int Count { get; }

    public bool IsNull(int row)
    {
        CheckRow(row);
        return _validity != null && ((_validity[row >> 6] >> (row & 63)) & 1) == 0;
    }

    public bool GetBoolean(int row) => *At(row, DuckDbTypeId.Boolean, 1) != 0;

    public sbyte GetSByte(int row) => *(sbyte*)At(row, DuckDbTypeId.TinyInt, 1);

    public short GetInt16(int row) => *(short*)At(row, DuckDbTypeId.SmallInt, 2);

    public int GetInt32(int row) => *(int*)At(row, DuckDbTypeId.Integer, 4);

    public long GetInt64(int row) => *(long*)At(row, DuckDbTypeId.BigInt, 8);

    public byte GetByte(int row) => *At(row, DuckDbTypeId.UTinyInt, 1);

    public ushort GetUInt16(int row) => *(ushort*)At(row, DuckDbTypeId.USmallInt, 2);

    public uint GetUInt32(int row) => *(uint*)At(row, DuckDbTypeId.UInteger, 4);

    public ulong GetUInt64(int row) => *(ulong*)At(row, DuckDbTypeId.UBigInt, 8);

    public float GetFloat(int row) => *(float*)At(row, DuckDbTypeId.Float, 4);

    public double GetDouble(int row) => *(double*)At(row, DuckDbTypeId.Double, 8);

    public Int128 GetInt128(int row)
    {
        var h = (DuckDbHugeInt*)At(row, DuckDbTypeId.HugeInt, 16);
        return new Int128((ulong)h->Upper, h->Lower);
    }

    public decimal GetDecimal(int row)
    {
        CheckRow(row);
        RequireType(DuckDbTypeId.Decimal);
        Int128 unscaled = Type.DecimalStorage switch
        {
            DuckDbTypeId.SmallInt => ((short*)_data)[row],
            DuckDbTypeId.Integer => ((int*)_data)[row],
            DuckDbTypeId.BigInt => ((long*)_data)[row],
            _ => new Int128((ulong)((DuckDbHugeInt*)_data)[row].Upper, ((DuckDbHugeInt*)_data)[row].Lower),
        };
        return (decimal)unscaled / Pow10(Type.DecimalScale);
    }

    /// <summary>TIMESTAMP and TIMESTAMPTZ: microseconds since 1970-01-01 00:00:00 UTC.</summary>
    public long GetTimestampMicros(int row)
    {
        CheckRow(row);
        if (Type.Id is not (DuckDbTypeId.Timestamp or DuckDbTypeId.TimestampTz))
        {
            ThrowTypeMismatch("TIMESTAMP or TIMESTAMPTZ");
        }

        return ((long*)_data)[row];
    }

    /// <summary>Any TIMESTAMP flavour (s, ms, µs, ns, TZ) or DATE, as a UTC <see cref="DateTime"/>.</summary>
    public DateTime GetDateTime(int row)
    {
        CheckRow(row);
        var raw = ((long*)_data)[row];
        long ticks = Type.Id switch
        {
            DuckDbTypeId.Timestamp or DuckDbTypeId.TimestampTz => raw * 10,
            DuckDbTypeId.TimestampMs => raw * 10_000,
            DuckDbTypeId.TimestampS => raw * 10_000_000,
            DuckDbTypeId.TimestampNs => raw / 100,
            DuckDbTypeId.Date => ((int*)_data)[row] * TimeSpan.TicksPerDay,
            _ => ThrowTypeMismatch<long>("a TIMESTAMP type or DATE"),
        };
        return new DateTime(DateTime.UnixEpoch.Ticks + ticks, DateTimeKind.Utc);
    }

    public DateOnly GetDate(int row)
    {
        var days = *(int*)At(row, DuckDbTypeId.Date, 4);
        return DateOnly.FromDayNumber(DuckDbTime.UnixEpochDayNumber + days);
    }

    /// <summary>VARCHAR (UTF-8) or BLOB bytes, pointing into the chunk: no copy, valid while the chunk lives.</summary>
    public ReadOnlySpan<byte> GetBytes(int row)
    {
        CheckRow(row);
        if (Type.Id is not (DuckDbTypeId.Varchar or DuckDbTypeId.Blob))
        {
            ThrowTypeMismatch("VARCHAR or BLOB");
        }

        var s = _data + ((nint)row * DuckDbStringLayout.Size);
        var length = *(uint*)s;
        var bytes = length <= DuckDbStringLayout.InlineCapacity
            ? s + DuckDbStringLayout.InlineOffset
            : *(byte**)(s + DuckDbStringLayout.PointerOffset);
        return new ReadOnlySpan<byte>(bytes, checked((int)length));
    }

    public string GetString(int row) => Encoding.UTF8.GetString(GetBytes(row));

    public byte[] GetBlob(int row) => GetBytes(row).ToArray();

    /// <summary>LIST or MAP: the row's slice of <see cref="GetChild"/>.</summary>
    public (int Offset, int Length) GetListEntry(int row)
    {
        CheckRow(row);
        if (Type.Id is not (DuckDbTypeId.List or DuckDbTypeId.Map))
        {
            ThrowTypeMismatch("LIST or MAP");
        }

        var entry = ((DuckDbListEntry*)_data)[row];
        return (checked((int)entry.Offset), checked((int)entry.Length));
    }

    /// <summary>LIST: the element vector. MAP: the STRUCT(key, value) vector.</summary>
    public DuckDbVector GetChild()
    {
        if (Type.Id is not (DuckDbTypeId.List or DuckDbTypeId.Map))
        {
            ThrowTypeMismatch("LIST or MAP");
        }

        return new DuckDbVector(
            NativeMethods.Vectors.ListGetChild(_vector),
            Type.ElementType!,
            checked((int)NativeMethods.Vectors.ListGetSize(_vector)));
    }

    public DuckDbVector GetField(int index)
    {
        RequireType(DuckDbTypeId.Struct);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Type.Fields.Count);
        return new DuckDbVector(NativeMethods.Vectors.StructGetChild(_vector, (ulong)index), Type.Fields[index].Type, Count);
    }

    /// <summary>
    /// The row as a CLR value: null, bool, sbyte/short/int/long, byte/ushort/uint/ulong, Int128, float,
    /// double, decimal, string, byte[], DateTime (UTC), DateOnly, <c>List&lt;object?&gt;</c> for LIST,
    /// <c>Dictionary&lt;string, object?&gt;</c> for STRUCT and <c>List&lt;KeyValuePair&lt;object, object?&gt;&gt;</c>
    /// for MAP. Allocates; for bulk reads use the typed getters.
    /// </summary>
    public object? GetValue(int row)
    {
        if (IsNull(row))
        {
            return null;
        }

        switch (Type.Id)
        {
            case DuckDbTypeId.Boolean: return GetBoolean(row);
            case DuckDbTypeId.TinyInt: return GetSByte(row);
            case DuckDbTypeId.SmallInt: return GetInt16(row);
            case DuckDbTypeId.Integer: return GetInt32(row);
            case DuckDbTypeId.BigInt: return GetInt64(row);
            case DuckDbTypeId.UTinyInt: return GetByte(row);
            case DuckDbTypeId.USmallInt: return GetUInt16(row);
            case DuckDbTypeId.UInteger: return GetUInt32(row);
            case DuckDbTypeId.UBigInt: return GetUInt64(row);
            case DuckDbTypeId.HugeInt: return GetInt128(row);
            case DuckDbTypeId.Float: return GetFloat(row);
            case DuckDbTypeId.Double: return GetDouble(row);
            case DuckDbTypeId.Decimal: return GetDecimal(row);
            case DuckDbTypeId.Varchar: return GetString(row);
            case DuckDbTypeId.Blob: return GetBlob(row);
            case DuckDbTypeId.Date: return GetDate(row);
            case DuckDbTypeId.Timestamp or DuckDbTypeId.TimestampTz or DuckDbTypeId.TimestampS
                or DuckDbTypeId.TimestampMs or DuckDbTypeId.TimestampNs:
                return GetDateTime(row);
            case DuckDbTypeId.List:
                {
                    var (offset, length) = GetListEntry(row);
                    var child = GetChild();
                    var list = new List<object?>(length);
                    for (var i = 0; i < length; i++)
                    {
                        list.Add(child.GetValue(offset + i));
                    }

                    return list;
                }

            case DuckDbTypeId.Map:
                {
                    var (offset, length) = GetListEntry(row);
                    var entries = GetChild();
                    var keys = entries.GetField(0);
                    var values = entries.GetField(1);
                    var map = new List<KeyValuePair<object, object?>>(length);
                    for (var i = 0; i < length; i++)
                    {
                        map.Add(new(keys.GetValue(offset + i)!, values.GetValue(offset + i)));
                    }

                    return map;
                }

            case DuckDbTypeId.Struct:
                {
                    var fields = new Dictionary<string, object?>(Type.Fields.Count, StringComparer.Ordinal);
                    for (var i = 0; i < Type.Fields.Count; i++)
                    {
                        fields[Type.Fields[i].Name] = GetField(i).GetValue(row);
                    }

                    return fields;
                }

            default:
                throw new NotSupportedException($"Reading {Type} values is not supported by TraceStore's DuckDB reader; cast the column in SQL (e.g. to VARCHAR).");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* At(int row, DuckDbTypeId expected, int width)
    {
        CheckRow(row);
        RequireType(expected);
        return _data + ((nint)row * width);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void CheckRow(int row)
    {
        if ((uint)row >= (uint)Count)
        {
            ThrowRowOutOfRange(row);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void RequireType(DuckDbTypeId expected)
    {
        if (Type.Id != expected)
        {
            ThrowTypeMismatch(expected.ToString().ToUpperInvariant());
        }
    }

    private static decimal Pow10(int scale)
    {
        var result = 1m;
        for (var i = 0; i < scale; i++)
        {
            result *= 10;
        }

        return result;
    }

    [DoesNotReturn]
    private void ThrowRowOutOfRange(int row) =>
        throw new ArgumentOutOfRangeException(nameof(row), row, $"Row {row} is outside this {Type} vector of {Count} rows.");

    [DoesNotReturn]
    private void ThrowTypeMismatch(string expected) =>
        throw new InvalidOperationException($"The vector holds {Type}, not {expected}.");

    [DoesNotReturn]
    private T ThrowTypeMismatch<T>(string expected) =>
        throw new InvalidOperationException($"The vector holds {Type}, not {expected}.");
}
