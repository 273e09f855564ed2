using System.Runtime.InteropServices;

namespace TraceStore.DuckDb.Native;

internal static partial class NativeMethods
{
    /// <summary>duckdb.h, "Value Interface". Created values are owned by the caller (<see cref="ValueHandle"/>).</summary>
    internal static unsafe partial class Values
    {
        [LibraryImport(Library, EntryPoint = "duckdb_destroy_value")]
        internal static partial void Destroy(ref nint value);

        [LibraryImport(Library, EntryPoint = "duckdb_create_varchar_length")]
        internal static partial ValueHandle CreateVarcharLength(byte* utf8, ulong length);

        [LibraryImport(Library, EntryPoint = "duckdb_create_bool")]
        internal static partial ValueHandle CreateBool(byte value);

        [LibraryImport(Library, EntryPoint = "duckdb_create_int32")]
        internal static partial ValueHandle CreateInt32(int value);

        [LibraryImport(Library, EntryPoint = "duckdb_create_int64")]
        internal static partial ValueHandle CreateInt64(long value);

        [LibraryImport(Library, EntryPoint = "duckdb_create_double")]
        internal static partial ValueHandle CreateDouble(double value);

        [LibraryImport(Library, EntryPoint = "duckdb_create_timestamp")]
        internal static partial ValueHandle CreateTimestamp(long microseconds);

        [LibraryImport(Library, EntryPoint = "duckdb_create_blob")]
        internal static partial ValueHandle CreateBlob(byte* data, ulong length);

        [LibraryImport(Library, EntryPoint = "duckdb_create_null_value")]
        internal static partial ValueHandle CreateNull();

        /// <summary>Copies the values; the caller still destroys its value handles.</summary>
        [LibraryImport(Library, EntryPoint = "duckdb_create_list_value")]
        internal static partial ValueHandle CreateList(LogicalTypeHandle childType, nint* values, ulong count);

        [LibraryImport(Library, EntryPoint = "duckdb_is_null_value")]
        internal static partial byte IsNull(nint value);

        /// <summary>Borrowed: valid while the value lives; must not be destroyed.</summary>
        [LibraryImport(Library, EntryPoint = "duckdb_get_value_type")]
        internal static partial nint GetValueType(nint value);

        [LibraryImport(Library, EntryPoint = "duckdb_get_bool")]
        internal static partial byte GetBool(nint value);

        [LibraryImport(Library, EntryPoint = "duckdb_get_int64")]
        internal static partial long GetInt64(nint value);

        [LibraryImport(Library, EntryPoint = "duckdb_get_double")]
        internal static partial double GetDouble(nint value);

        /// <summary>Free the result with <c>duckdb_free</c>.</summary>
        [LibraryImport(Library, EntryPoint = "duckdb_get_varchar")]
        internal static partial nint GetVarchar(nint value);
    }
}
