using System.Runtime.InteropServices;

namespace TraceStore.DuckDb.Native;

internal static partial class NativeMethods
{
    /// <summary>duckdb.h, "Query Execution" and "Result Functions". Results are passed as pointers to a
    /// <see cref="DuckDbResultStruct"/> owned by <see cref="ResultHandle"/>.</summary>
    internal static unsafe partial class Query
    {
        [LibraryImport(Library, EntryPoint = "duckdb_query", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial DuckDbState Run(ConnectionHandle connection, string sql, DuckDbResultStruct* result);

        [LibraryImport(Library, EntryPoint = "duckdb_destroy_result")]
        internal static partial void DestroyResult(DuckDbResultStruct* result);

        [LibraryImport(Library, EntryPoint = "duckdb_column_name")]
        internal static partial nint ColumnName(DuckDbResultStruct* result, ulong column);

        [LibraryImport(Library, EntryPoint = "duckdb_column_logical_type")]
        internal static partial nint ColumnLogicalType(DuckDbResultStruct* result, ulong column);

        [LibraryImport(Library, EntryPoint = "duckdb_column_count")]
        internal static partial ulong ColumnCount(DuckDbResultStruct* result);

        [LibraryImport(Library, EntryPoint = "duckdb_rows_changed")]
        internal static partial ulong RowsChanged(DuckDbResultStruct* result);

        [LibraryImport(Library, EntryPoint = "duckdb_result_error")]
        internal static partial nint ResultError(DuckDbResultStruct* result);

        [LibraryImport(Library, EntryPoint = "duckdb_result_error_type")]
        internal static partial DuckDbErrorType ResultErrorType(DuckDbResultStruct* result);

        /// <summary>Takes the result by value (the one exception in the API). Returns 0 at the end or on error;
        /// a streaming result reports a mid-stream failure through <see cref="ResultError"/>.</summary>
        [LibraryImport(Library, EntryPoint = "duckdb_fetch_chunk")]
        internal static partial nint FetchChunk(DuckDbResultStruct result);
    }
}
