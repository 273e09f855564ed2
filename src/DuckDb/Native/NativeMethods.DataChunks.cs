using System.Runtime.InteropServices;

namespace TraceStore.DuckDb.Native;

internal static partial class NativeMethods
{
    /// <summary>duckdb.h, "Data Chunk Interface". Chunks are raw pointers here: chunks we create are owned by
    /// <see cref="DataChunkHandle"/>, chunks handed to table-function callbacks are owned by DuckDB.</summary>
    internal static unsafe partial class DataChunks
    {
        /// <summary>Copies the types; the caller destroys its logical types afterwards.</summary>
        [LibraryImport(Library, EntryPoint = "duckdb_create_data_chunk")]
        internal static partial nint Create(nint* types, ulong columnCount);

        [LibraryImport(Library, EntryPoint = "duckdb_destroy_data_chunk")]
        internal static partial void Destroy(ref nint chunk);

        /// <summary>May re-point vector data buffers: fetch vector data pointers again after a reset.</summary>
        [LibraryImport(Library, EntryPoint = "duckdb_data_chunk_reset")]
        internal static partial void Reset(nint chunk);

        // Trivial getter.
        [LibraryImport(Library, EntryPoint = "duckdb_data_chunk_get_column_count")]
        [SuppressGCTransition]
        internal static partial ulong ColumnCount(nint chunk);

        // Trivial getter.
        [LibraryImport(Library, EntryPoint = "duckdb_data_chunk_get_vector")]
        [SuppressGCTransition]
        internal static partial nint GetVector(nint chunk, ulong column);

        // Trivial getter.
        [LibraryImport(Library, EntryPoint = "duckdb_data_chunk_get_size")]
        [SuppressGCTransition]
        internal static partial ulong GetSize(nint chunk);

        // Trivial setter.
        [LibraryImport(Library, EntryPoint = "duckdb_data_chunk_set_size")]
        [SuppressGCTransition]
        internal static partial void SetSize(nint chunk, ulong size);
    }
}
