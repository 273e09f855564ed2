using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Unicode;
using TraceStore.DuckDb.Native;

namespace TraceStore.DuckDb;

/// <summary>
/// Writes values straight into one vector of a data chunk being filled (an appender's chunk or a table
/// function's output). Holds the vector's data pointer, so it is valid only until the chunk is appended or
/// reset, or (for a LIST child) until the parent list grows again. Setters check the row bound and the type.
/// </summary>
internal readonly unsafe struct DuckDbVectorWriter
{
    private readonly nint _vector;
    private readonly byte* _data;

    internal DuckDbVectorWriter(nint vector, DuckDbLogicalType type, int capacity)
    {
        _vector = vector;
        _data = (byte*)NativeMethods.Vectors.GetData(vector);
        Type = type;
        Capacity = capacity;
    }

    public DuckDbLogicalType Type { get; }

    /// <summary>Rows that may be written: the chunk capacity, or for a LIST child the child's current size.</summary>
    public int Capacity { get; }

    /// <summary>Marks the row NULL (and, for STRUCT, every field of it; for LIST or MAP, an empty entry).</summary>
    public void SetNull(int row)
    {
        CheckRow(row);
        NativeMethods.Vectors.EnsureValidityWritable(_vector);
        var validity = NativeMethods.Vectors.GetValidity(_vector);
        validity[row >> 6] &= ~(1UL << (row & 63));
        if (Type.Id == DuckDbTypeId.Struct)
        {
            for (var i = 0; i < Type.Fields.Count; i++)
            {
                GetField(i).SetNull(row);
            }
        }
        else if (Type.Id is DuckDbTypeId.List or DuckDbTypeId.Map)
        {
            ((DuckDbListEntry*)_data)[row] = new DuckDbListEntry { Offset = NativeMethods.Vectors.ListGetSize(_vector), Length = 0 };
        }
    }

    /// <summary>Marks the row valid (not NULL) again, for a value written over one that was NULL (set NULL, or copied in
    /// as NULL). Nothing to do while the vector has no validity mask: every row is valid then.</summary>
    public void SetValid(int row)
    {
        CheckRow(row);
        var validity = NativeMethods.Vectors.GetValidity(_vector);
        if (validity != null)
        {
            validity[row >> 6] |= 1UL << (row & 63);
        }
    }

    public void SetBoolean(int row, bool value) => *At(row, DuckDbTypeId.Boolean, 1) = value ? (byte)1 : (byte)0;

    public void SetSByte(int row, sbyte value) => *(sbyte*)At(row, DuckDbTypeId.TinyInt, 1) = value;

    public void SetInt16(int row, short value) => *(short*)At(row, DuckDbTypeId.SmallInt, 2) = value;

    public void SetInt32(int row, int value) => *(int*)At(row, DuckDbTypeId.Integer, 4) = value;

    public void SetInt64(int row, long value) => *(long*)At(row, DuckDbTypeId.BigInt, 8) = value;

    public void SetByte(int row, byte value) => *At(row, DuckDbTypeId.UTinyInt, 1) = value;

    public void SetUInt16(int row, ushort value) => *(ushort*)At(row, DuckDbTypeId.USmallInt, 2) = value;

    public void SetUInt32(int row, uint value) => *(uint*)At(row, DuckDbTypeId.UInteger, 4) = value;

    public void SetUInt64(int row, ulong value) => *(ulong*)At(row, DuckDbTypeId.UBigInt, 8) = value;

    public void SetFloat(int row, float value) => *(float*)At(row, DuckDbTypeId.Float, 4) = value;

    public void SetDouble(int row, double value) => *(double*)At(row, DuckDbTypeId.Double, 8) = value;

    public void SetInt128(int row, Int128 value) =>
        *(DuckDbHugeInt*)At(row, DuckDbTypeId.HugeInt, 16) = new DuckDbHugeInt { Lower = (ulong)value, Upper = (long)(value >> 64) };

    /// <summary>TIMESTAMP or TIMESTAMPTZ, as microseconds since 1970-01-01 00:00:00 UTC.</summary>
    public void SetTimestampMicros(int row, long microseconds)
    {
        CheckRow(row);
        if (Type.Id is not (DuckDbTypeId.Timestamp or DuckDbTypeId.TimestampTz))
        {
            ThrowTypeMismatch("TIMESTAMP or TIMESTAMPTZ");
        }

        ((long*)_data)[row] = microseconds;
    }

    public void SetDateTime(int row, DateTime value) => SetTimestampMicros(row, DuckDbTime.ToUnixMicros(value));

    public void SetDate(int row, DateOnly value) =>
        *(int*)At(row, DuckDbTypeId.Date, 4) = value.DayNumber - DuckDbTime.UnixEpochDayNumber;

    /// <summary>VARCHAR from UTF-8 bytes. Invalid UTF-8 is refused: DuckDB assumes every VARCHAR is valid.</summary>
    public void SetUtf8(int row, ReadOnlySpan<byte> utf8)
    {
        CheckRow(row);
        RequireType(DuckDbTypeId.Varchar);
        if (!Utf8.IsValid(utf8))
        {
            throw new ArgumentException($"Row {row}: the bytes are not valid UTF-8 and cannot be stored as VARCHAR.", nameof(utf8));
        }

        WriteStringT(row, utf8);
    }

    /// <summary>
    /// VARCHAR that DuckDB reads where it is: a string of more than 12 bytes is not copied into the vector, its
    /// <c>string_t</c> points at <paramref name="utf8"/>. For bulk producers whose bytes are already checked, where a
    /// native call and a copy per string would dominate. Contract: <paramref name="utf8"/> is valid UTF-8 (not checked
    /// here), and its memory is pinned or native and stays unchanged until DuckDB has consumed the chunk (a table
    /// function's output chunk is consumed before the function is called again: operators that keep rows, such as
    /// COPY's row-group buffer, copy the strings).
    /// </summary>
    public void SetUtf8InPlace(int row, ReadOnlySpan<byte> utf8)
    {
        CheckRow(row);
        RequireType(DuckDbTypeId.Varchar);
        System.Diagnostics.Debug.Assert(Utf8.IsValid(utf8), "SetUtf8InPlace takes valid UTF-8 only.");
        var slot = _data + ((nint)row * DuckDbStringLayout.Size);
        if (utf8.Length <= DuckDbStringLayout.InlineCapacity)
        {
            ((ulong*)slot)[0] = 0;
            ((ulong*)slot)[1] = 0;
            *(uint*)slot = (uint)utf8.Length;
            utf8.CopyTo(new Span<byte>(slot + DuckDbStringLayout.InlineOffset, DuckDbStringLayout.InlineCapacity));
            return;
        }

        *(uint*)slot = (uint)utf8.Length;
        *(uint*)(slot + DuckDbStringLayout.InlineOffset) = Unsafe.ReadUnaligned<uint>(ref MemoryMarshal.GetReference(utf8));
        *(byte**)(slot + DuckDbStringLayout.PointerOffset) = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(utf8));
    }

    public void SetString(int row, string value)
    {
        CheckRow(row);
        RequireType(DuckDbTypeId.Varchar);
        var max = Encoding.UTF8.GetMaxByteCount(value.Length);
        if (max <= 256)
        {
            Span<byte> buffer = stackalloc byte[256];
            WriteStringT(row, buffer[..Encoding.UTF8.GetBytes(value, buffer)]);
        }
        else
        {
            WriteStringT(row, Encoding.UTF8.GetBytes(value));
        }
    }

    public void SetBlob(int row, ReadOnlySpan<byte> data)
    {
        CheckRow(row);
        RequireType(DuckDbTypeId.Blob);
        WriteStringT(row, data);
    }

    /// <summary>
    /// Starts the LIST (or MAP) value of <paramref name="row"/> with <paramref name="length"/> elements and returns a
    /// writer for the child vector (for MAP, the STRUCT(key, value) vector), whose rows
    /// [<paramref name="childOffset"/>, <paramref name="childOffset"/> + <paramref name="length"/>) belong to this row.
    /// Writers obtained earlier for this child are stale afterwards (the child may have been reallocated).
    /// </summary>
    public DuckDbVectorWriter BeginList(int row, int length, out int childOffset)
    {
        CheckRow(row);
        var child = AppendListChildren(length, out childOffset);
        ((DuckDbListEntry*)_data)[row] = new DuckDbListEntry { Offset = (ulong)childOffset, Length = (ulong)length };
        return child;
    }

    /// <summary>
    /// Bulk form of <see cref="BeginList"/> for a whole chunk: grows the LIST (or MAP) child by
    /// <paramref name="additional"/> elements in one step and returns a writer for the child, whose new rows start at
    /// <paramref name="firstChild"/>. Each row then gets its entry with <see cref="SetListEntry"/>. One reserve per chunk
    /// instead of three native calls per row.
    /// </summary>
    public DuckDbVectorWriter AppendListChildren(int additional, out int firstChild)
    {
        if (Type.Id is not (DuckDbTypeId.List or DuckDbTypeId.Map))
        {
            ThrowTypeMismatch("LIST or MAP");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(additional);
        var offset = NativeMethods.Vectors.ListGetSize(_vector);
        var newSize = offset + (ulong)additional;
        if (NativeMethods.Vectors.ListReserve(_vector, newSize) != DuckDbState.Success
            || NativeMethods.Vectors.ListSetSize(_vector, newSize) != DuckDbState.Success)
        {
            throw new DuckDbException($"DuckDB could not grow a {Type} vector to {newSize} elements.");
        }

        firstChild = checked((int)offset);
        return new DuckDbVectorWriter(NativeMethods.Vectors.ListGetChild(_vector), Type.ElementType!, checked((int)newSize));
    }

    /// <summary>Sets the LIST (or MAP) value of <paramref name="row"/> to child rows [<paramref name="childOffset"/>,
    /// <paramref name="childOffset"/> + <paramref name="length"/>), which <see cref="AppendListChildren"/> made room for.</summary>
    public void SetListEntry(int row, int childOffset, int length)
    {
        CheckRow(row);
        if (Type.Id is not (DuckDbTypeId.List or DuckDbTypeId.Map))
        {
            ThrowTypeMismatch("LIST or MAP");
        }

        ((DuckDbListEntry*)_data)[row] = new DuckDbListEntry { Offset = (ulong)childOffset, Length = (ulong)length };
    }

    public DuckDbVectorWriter GetField(int index)
    {
        RequireType(DuckDbTypeId.Struct);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Type.Fields.Count);
        return new DuckDbVectorWriter(NativeMethods.Vectors.StructGetChild(_vector, (ulong)index), Type.Fields[index].Type, Capacity);
    }

    /// <summary>
    /// Strings of up to 12 bytes are written inline into the 16-byte <c>string_t</c> (zero-padded: DuckDB compares
    /// the inline part word-wise); longer ones are copied into the vector's heap by
    /// <c>duckdb_vector_assign_string_element_len</c>.
    /// </summary>
    private void WriteStringT(int row, ReadOnlySpan<byte> bytes)
    {
        var slot = _data + ((nint)row * DuckDbStringLayout.Size);
        if (bytes.Length <= DuckDbStringLayout.InlineCapacity)
        {
            ((ulong*)slot)[0] = 0;
            ((ulong*)slot)[1] = 0;
            *(uint*)slot = (uint)bytes.Length;
            bytes.CopyTo(new Span<byte>(slot + DuckDbStringLayout.InlineOffset, DuckDbStringLayout.InlineCapacity));
            return;
        }

        fixed (byte* p = bytes)
        {
            NativeMethods.Vectors.UnsafeAssignStringElementLen(_vector, (ulong)row, p, (ulong)bytes.Length);
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
        if ((uint)row >= (uint)Capacity)
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

    [DoesNotReturn]
    private void ThrowRowOutOfRange(int row) =>
        throw new ArgumentOutOfRangeException(nameof(row), row, $"Row {row} is outside this {Type} vector's {Capacity} writable rows.");

    [DoesNotReturn]
    private void ThrowTypeMismatch(string expected) =>
        throw new InvalidOperationException($"The vector holds {Type}, not {expected}.");
}
