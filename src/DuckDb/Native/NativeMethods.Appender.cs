using System.Runtime.InteropServices;

namespace TraceStore.DuckDb.Native;

internal static partial class NativeMethods
{
    /// <summary>duckdb.h, "Appender". Row calls are here for the row appender (a measured baseline);
    /// bulk loads use <see cref="AppendDataChunk"/>.</summary>
    internal static unsafe partial class Appender
    {
        [LibraryImport(Library, EntryPoint = "duckdb_appender_create", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial DuckDbState Create(ConnectionHandle connection, string? schema, string table, out AppenderHandle appender);

        [LibraryImport(Library, EntryPoint = "duckdb_appender_column_count")]
        internal static partial ulong ColumnCount(AppenderHandle appender);

        /// <summary>The caller destroys the returned logical type.</summary>
        [LibraryImport(Library, EntryPoint = "duckdb_appender_column_type")]
        internal static partial nint ColumnType(AppenderHandle appender, ulong column);

        [LibraryImport(Library, EntryPoint = "duckdb_appender_error")]
        internal static partial nint Error(AppenderHandle appender);

        [LibraryImport(Library, EntryPoint = "duckdb_appender_flush")]
        internal static partial DuckDbState Flush(AppenderHandle appender);

        [LibraryImport(Library, EntryPoint = "duckdb_appender_close")]
        internal static partial DuckDbState Close(AppenderHandle appender);

        /// <summary>Flushes, closes and frees; the handle's release path.</summary>
        [LibraryImport(Library, EntryPoint = "duckdb_appender_destroy")]
        internal static partial DuckDbState Destroy(ref nint appender);

        [LibraryImport(Library, EntryPoint = "duckdb_append_data_chunk")]
        internal static partial DuckDbState AppendDataChunk(AppenderHandle appender, nint chunk);

        [LibraryImport(Library, EntryPoint = "duckdb_appender_end_row")]
        internal static partial DuckDbState EndRow(AppenderHandle appender);

        [LibraryImport(Library, EntryPoint = "duckdb_append_bool")]
        internal static partial DuckDbState AppendBool(AppenderHandle appender, byte value);

        [LibraryImport(Library, EntryPoint = "duckdb_append_int32")]
        internal static partial DuckDbState AppendInt32(AppenderHandle appender, int value);

        [LibraryImport(Library, EntryPoint = "duckdb_append_int64")]
        internal static partial DuckDbState AppendInt64(AppenderHandle appender, long value);

        [LibraryImport(Library, EntryPoint = "duckdb_append_double")]
        internal static partial DuckDbState AppendDouble(AppenderHandle appender, double value);

        [LibraryImport(Library, EntryPoint = "duckdb_append_timestamp")]
        internal static partial DuckDbState AppendTimestamp(AppenderHandle appender, long microseconds);

        [LibraryImport(Library, EntryPoint = "duckdb_append_varchar_length")]
        internal static partial DuckDbState AppendVarcharLength(AppenderHandle appender, byte* utf8, ulong length);

        [LibraryImport(Library, EntryPoint = "duckdb_append_blob")]
        internal static partial DuckDbState AppendBlob(AppenderHandle appender, byte* data, ulong length);

        [LibraryImport(Library, EntryPoint = "duckdb_append_null")]
        internal static partial DuckDbState AppendNull(AppenderHandle appender);
    }
}
