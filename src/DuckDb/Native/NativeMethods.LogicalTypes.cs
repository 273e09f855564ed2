using System.Runtime.InteropServices;

namespace TraceStore.DuckDb.Native;

internal static partial class NativeMethods
{
    /// <summary>duckdb.h, "Logical Type Interface". Every returned type is owned by the caller
    /// (wrap it in <see cref="LogicalTypeHandle"/>) unless a comment says otherwise.</summary>
    internal static unsafe partial class LogicalTypes
    {
        [LibraryImport(Library, EntryPoint = "duckdb_create_logical_type")]
        internal static partial LogicalTypeHandle Create(DuckDbTypeId type);

        [LibraryImport(Library, EntryPoint = "duckdb_create_list_type")]
        internal static partial LogicalTypeHandle CreateList(LogicalTypeHandle child);

        [LibraryImport(Library, EntryPoint = "duckdb_create_map_type")]
        internal static partial LogicalTypeHandle CreateMap(LogicalTypeHandle key, LogicalTypeHandle value);

        [LibraryImport(Library, EntryPoint = "duckdb_create_struct_type")]
        internal static partial LogicalTypeHandle CreateStruct(nint* memberTypes, byte** memberNames, ulong memberCount);

        [LibraryImport(Library, EntryPoint = "duckdb_create_decimal_type")]
        internal static partial LogicalTypeHandle CreateDecimal(byte width, byte scale);

        [LibraryImport(Library, EntryPoint = "duckdb_destroy_logical_type")]
        internal static partial void Destroy(ref nint type);

        [LibraryImport(Library, EntryPoint = "duckdb_get_type_id")]
        internal static partial DuckDbTypeId GetTypeId(nint type);

        [LibraryImport(Library, EntryPoint = "duckdb_list_type_child_type")]
        internal static partial nint ListChildType(nint type);

        [LibraryImport(Library, EntryPoint = "duckdb_map_type_key_type")]
        internal static partial nint MapKeyType(nint type);

        [LibraryImport(Library, EntryPoint = "duckdb_map_type_value_type")]
        internal static partial nint MapValueType(nint type);

        [LibraryImport(Library, EntryPoint = "duckdb_struct_type_child_count")]
        internal static partial ulong StructChildCount(nint type);

        /// <summary>Free the result with <c>duckdb_free</c>.</summary>
        [LibraryImport(Library, EntryPoint = "duckdb_struct_type_child_name")]
        internal static partial nint StructChildName(nint type, ulong index);

        [LibraryImport(Library, EntryPoint = "duckdb_struct_type_child_type")]
        internal static partial nint StructChildType(nint type, ulong index);

        [LibraryImport(Library, EntryPoint = "duckdb_decimal_width")]
        internal static partial byte DecimalWidth(nint type);

        [LibraryImport(Library, EntryPoint = "duckdb_decimal_scale")]
        internal static partial byte DecimalScale(nint type);

        [LibraryImport(Library, EntryPoint = "duckdb_decimal_internal_type")]
        internal static partial DuckDbTypeId DecimalInternalType(nint type);
    }
}
