using System.Runtime.InteropServices;

namespace TraceStore.DuckDb.Native;

internal static partial class NativeMethods
{
    /// <summary>duckdb.h, "Prepared Statements", "Bind Values to Prepared Statements", "Execute Prepared
    /// Statements" and "Pending Result Interface". Parameter indexes are 1-based, as in the C API.</summary>
    internal static unsafe partial class PreparedStatements
    {
        [LibraryImport(Library, EntryPoint = "duckdb_prepare", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial DuckDbState Prepare(ConnectionHandle connection, string sql, out PreparedStatementHandle statement);

        [LibraryImport(Library, EntryPoint = "duckdb_destroy_prepare")]
        internal static partial void Destroy(ref nint statement);

        [LibraryImport(Library, EntryPoint = "duckdb_prepare_error")]
        internal static partial nint PrepareError(PreparedStatementHandle statement);

        [LibraryImport(Library, EntryPoint = "duckdb_nparams")]
        internal static partial ulong ParameterCount(PreparedStatementHandle statement);

        [LibraryImport(Library, EntryPoint = "duckdb_param_type")]
        internal static partial DuckDbTypeId ParameterType(PreparedStatementHandle statement, ulong index);

        [LibraryImport(Library, EntryPoint = "duckdb_clear_bindings")]
        internal static partial DuckDbState ClearBindings(PreparedStatementHandle statement);

        [LibraryImport(Library, EntryPoint = "duckdb_bind_boolean")]
        internal static partial DuckDbState BindBoolean(PreparedStatementHandle statement, ulong index, byte value);

        [LibraryImport(Library, EntryPoint = "duckdb_bind_int32")]
        internal static partial DuckDbState BindInt32(PreparedStatementHandle statement, ulong index, int value);

        [LibraryImport(Library, EntryPoint = "duckdb_bind_int64")]
        internal static partial DuckDbState BindInt64(PreparedStatementHandle statement, ulong index, long value);

        [LibraryImport(Library, EntryPoint = "duckdb_bind_double")]
        internal static partial DuckDbState BindDouble(PreparedStatementHandle statement, ulong index, double value);

        /// <summary><c>duckdb_timestamp</c> is a struct holding one int64 (microseconds since 1970-01-01), passed by value.</summary>
        [LibraryImport(Library, EntryPoint = "duckdb_bind_timestamp")]
        internal static partial DuckDbState BindTimestamp(PreparedStatementHandle statement, ulong index, long microseconds);

        [LibraryImport(Library, EntryPoint = "duckdb_bind_varchar_length")]
        internal static partial DuckDbState BindVarcharLength(PreparedStatementHandle statement, ulong index, byte* utf8, ulong length);

        [LibraryImport(Library, EntryPoint = "duckdb_bind_blob")]
        internal static partial DuckDbState BindBlob(PreparedStatementHandle statement, ulong index, byte* data, ulong length);

        [LibraryImport(Library, EntryPoint = "duckdb_bind_null")]
        internal static partial DuckDbState BindNull(PreparedStatementHandle statement, ulong index);

        [LibraryImport(Library, EntryPoint = "duckdb_bind_value")]
        internal static partial DuckDbState BindValue(PreparedStatementHandle statement, ulong index, ValueHandle value);

        [LibraryImport(Library, EntryPoint = "duckdb_execute_prepared")]
        internal static partial DuckDbState Execute(PreparedStatementHandle statement, DuckDbResultStruct* result);

        // Deprecated in the header since 1.0 yet still the C API's only route to a *streaming* result in 1.5.6
        // (the symbol is exported by the pinned library, whose sha256 the build checks).
        [LibraryImport(Library, EntryPoint = "duckdb_pending_prepared_streaming")]
        internal static partial DuckDbState PendingStreaming(PreparedStatementHandle statement, out nint pending);

        [LibraryImport(Library, EntryPoint = "duckdb_execute_pending")]
        internal static partial DuckDbState ExecutePending(nint pending, DuckDbResultStruct* result);

        [LibraryImport(Library, EntryPoint = "duckdb_pending_error")]
        internal static partial nint PendingError(nint pending);

        [LibraryImport(Library, EntryPoint = "duckdb_destroy_pending")]
        internal static partial void DestroyPending(ref nint pending);
    }
}
