using System.Runtime.InteropServices;

namespace TraceStore.DuckDb.Native;

/// <summary><c>duckdb_state</c>: every fallible C call returns it.</summary>
internal enum DuckDbState
{
    Success = 0,
    Error = 1,
}

/// <summary><c>duckdb_type</c>, the logical type ids of duckdb.h (values fixed by the C API).</summary>
internal enum DuckDbTypeId
{
    Invalid = 0,
    Boolean = 1,
    TinyInt = 2,
    SmallInt = 3,
    Integer = 4,
    BigInt = 5,
    UTinyInt = 6,
    USmallInt = 7,
    UInteger = 8,
    UBigInt = 9,
    Float = 10,
    Double = 11,
    Timestamp = 12,
    Date = 13,
    Time = 14,
    Interval = 15,
    HugeInt = 16,
    Varchar = 17,
    Blob = 18,
    Decimal = 19,
    TimestampS = 20,
    TimestampMs = 21,
    TimestampNs = 22,
    Enum = 23,
    List = 24,
    Struct = 25,
    Map = 26,
    Uuid = 27,
    Union = 28,
    Bit = 29,
    TimeTz = 30,
    TimestampTz = 31,
    UHugeInt = 32,
    Array = 33,
    Any = 34,
    BigNum = 35,
    SqlNull = 36,
}

/// <summary>
/// <c>duckdb_result</c>, 48 bytes: three idx_t, then column, error and internal pointers. Only
/// <c>duckdb_fetch_chunk</c> takes it by value; every other function takes a pointer to it. The
/// fields are DuckDB's (the first five are deprecated); we never read them.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct DuckDbResultStruct
{
    public ulong DeprecatedColumnCount;
    public ulong DeprecatedRowCount;
    public ulong DeprecatedRowsChanged;
    public nint DeprecatedColumns;
    public nint DeprecatedErrorMessage;
    public nint InternalData;
}

/// <summary><c>duckdb_list_entry</c>: a LIST row is a slice [Offset, Offset + Length) of the child vector.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct DuckDbListEntry
{
    public ulong Offset;
    public ulong Length;
}

/// <summary><c>duckdb_hugeint</c>: a signed 128-bit integer, low word first.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct DuckDbHugeInt
{
    public ulong Lower;
    public long Upper;
}

/// <summary>
/// <c>duckdb_string_t</c> is 16 bytes: a uint32 length at offset 0; strings of up to 12 bytes are
/// stored inline at offset 4, longer ones keep a 4-byte prefix at offset 4 and a pointer at offset 8
/// into memory owned by the vector (copy before the chunk is destroyed).
/// </summary>
internal static class DuckDbStringLayout
{
    public const int Size = 16;
    public const int InlineCapacity = 12;
    public const int InlineOffset = 4;
    public const int PointerOffset = 8;
}
