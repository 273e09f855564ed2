using System.Runtime.InteropServices;

namespace TraceStore.DuckDb.Native;

internal static partial class NativeMethods
{
    /// <summary>duckdb.h, "Vector Interface" and "Validity Mask Functions". Vectors belong to their chunk.</summary>
    internal static unsafe partial class Vectors
    {
        /// <summary>The caller destroys the returned logical type.</summary>
        [LibraryImport(Library, EntryPoint = "duckdb_vector_get_column_type")]
        internal static partial nint GetColumnType(nint vector);

        // Trivial getter.
        [LibraryImport(Library, EntryPoint = "duckdb_vector_get_data")]
        [SuppressGCTransition]
        internal static partial void* GetData(nint vector);

        /// <summary>NULL when the vector has no NULLs. Row i is valid when bit (i &amp; 63) of word i &gt;&gt; 6 is set.</summary>
        // Trivial getter.
        [LibraryImport(Library, EntryPoint = "duckdb_vector_get_validity")]
        [SuppressGCTransition]
        internal static partial ulong* GetValidity(nint vector);

        /// <summary>Allocates the mask if absent (all valid); fetch <see cref="GetValidity"/> again afterwards.</summary>
        [LibraryImport(Library, EntryPoint = "duckdb_vector_ensure_validity_writable")]
        internal static partial void EnsureValidityWritable(nint vector);

        /// <summary>
        /// Copies the bytes into the vector's string heap without checking them. The checked
        /// <c>duckdb_vector_assign_string_element_len</c> (which this supersedes in duckdb.h) re-validates VARCHAR input as
        /// UTF-8 and silently stores NULL when it is not; <see cref="DuckDbVectorWriter"/> validates once itself and
        /// throws instead, so the native check would only repeat work.
        /// </summary>
        [LibraryImport(Library, EntryPoint = "duckdb_unsafe_vector_assign_string_element_len")]
        internal static partial void UnsafeAssignStringElementLen(nint vector, ulong index, byte* text, ulong length);

        // Trivial getter.
        [LibraryImport(Library, EntryPoint = "duckdb_list_vector_get_child")]
        [SuppressGCTransition]
        internal static partial nint ListGetChild(nint vector);

        // Trivial getter.
        [LibraryImport(Library, EntryPoint = "duckdb_list_vector_get_size")]
        [SuppressGCTransition]
        internal static partial ulong ListGetSize(nint vector);

        [LibraryImport(Library, EntryPoint = "duckdb_list_vector_set_size")]
        internal static partial DuckDbState ListSetSize(nint vector, ulong size);

        /// <summary>Grows the child to at least the capacity (may reallocate: re-read child data pointers).</summary>
        [LibraryImport(Library, EntryPoint = "duckdb_list_vector_reserve")]
        internal static partial DuckDbState ListReserve(nint vector, ulong requiredCapacity);

        // Trivial getter.
        [LibraryImport(Library, EntryPoint = "duckdb_struct_vector_get_child")]
        [SuppressGCTransition]
        internal static partial nint StructGetChild(nint vector, ulong index);

        /// <summary>Copies rows <c>sel[srcOffset .. srcCount)</c> of <paramref name="source"/> into
        /// <paramref name="target"/> from row <paramref name="targetOffset"/> on, any type: strings are copied into the
        /// target's heap, LIST and MAP children appended to the target's child vector, dictionary and constant sources
        /// flattened through the selection (DuckDB's VectorOperations::Copy).</summary>
        [LibraryImport(Library, EntryPoint = "duckdb_vector_copy_sel")]
        internal static partial void CopySelection(nint source, nint target, nint selection, ulong srcCount, ulong srcOffset, ulong targetOffset);

        [LibraryImport(Library, EntryPoint = "duckdb_create_selection_vector")]
        internal static partial nint CreateSelection(ulong size);

        [LibraryImport(Library, EntryPoint = "duckdb_destroy_selection_vector")]
        internal static partial void DestroySelection(nint selection);

        /// <summary>The selection's row indexes (<c>sel_t</c>, 32-bit), writable.</summary>
        // Trivial getter.
        [LibraryImport(Library, EntryPoint = "duckdb_selection_vector_get_data_ptr")]
        [SuppressGCTransition]
        internal static partial uint* SelectionData(nint selection);
    }
}
