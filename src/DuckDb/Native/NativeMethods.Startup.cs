using System.Runtime.InteropServices;

namespace TraceStore.DuckDb.Native;

internal static partial class NativeMethods
{
    /// <summary>duckdb.h, "Open Connect" and "Configuration".</summary>
    internal static partial class Startup
    {
        [LibraryImport(Library, EntryPoint = "duckdb_open_ext", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial DuckDbState OpenExt(string? path, out DatabaseHandle database, ConfigHandle config, out nint error);

        [LibraryImport(Library, EntryPoint = "duckdb_close")]
        internal static partial void Close(ref nint database);

        [LibraryImport(Library, EntryPoint = "duckdb_connect")]
        internal static partial DuckDbState Connect(DatabaseHandle database, out ConnectionHandle connection);

        [LibraryImport(Library, EntryPoint = "duckdb_disconnect")]
        internal static partial void Disconnect(ref nint connection);

        [LibraryImport(Library, EntryPoint = "duckdb_interrupt")]
        internal static partial void Interrupt(ConnectionHandle connection);

        [LibraryImport(Library, EntryPoint = "duckdb_library_version")]
        internal static partial nint LibraryVersion();

        [LibraryImport(Library, EntryPoint = "duckdb_create_config")]
        internal static partial DuckDbState CreateConfig(out ConfigHandle config);

        [LibraryImport(Library, EntryPoint = "duckdb_set_config", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial DuckDbState SetConfig(ConfigHandle config, string name, string option);

        [LibraryImport(Library, EntryPoint = "duckdb_destroy_config")]
        internal static partial void DestroyConfig(ref nint config);

        [LibraryImport(Library, EntryPoint = "duckdb_free")]
        internal static partial void Free(nint pointer);

        // Constant (2048 in 1.5.6); trivial getter.
        [LibraryImport(Library, EntryPoint = "duckdb_vector_size")]
        [SuppressGCTransition]
        internal static partial ulong VectorSize();
    }
}
