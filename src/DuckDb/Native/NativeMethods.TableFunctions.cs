using System.Runtime.InteropServices;

namespace TraceStore.DuckDb.Native;

internal static partial class NativeMethods
{
    /// <summary>duckdb.h, "Table Functions" (definition, bind, init and function callbacks). The info
    /// pointers are only valid inside the callback that received them.</summary>
    internal static unsafe partial class TableFunctions
    {
        [LibraryImport(Library, EntryPoint = "duckdb_create_table_function")]
        internal static partial nint Create();

        [LibraryImport(Library, EntryPoint = "duckdb_destroy_table_function")]
        internal static partial void Destroy(ref nint function);

        [LibraryImport(Library, EntryPoint = "duckdb_table_function_set_name", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial void SetName(nint function, string name);

        [LibraryImport(Library, EntryPoint = "duckdb_table_function_add_parameter")]
        internal static partial void AddParameter(nint function, LogicalTypeHandle type);

        [LibraryImport(Library, EntryPoint = "duckdb_table_function_set_extra_info")]
        internal static partial void SetExtraInfo(nint function, nint extraInfo, delegate* unmanaged<nint, void> destroy);

        [LibraryImport(Library, EntryPoint = "duckdb_table_function_set_bind")]
        internal static partial void SetBind(nint function, delegate* unmanaged<nint, void> bind);

        [LibraryImport(Library, EntryPoint = "duckdb_table_function_set_init")]
        internal static partial void SetInit(nint function, delegate* unmanaged<nint, void> init);

        [LibraryImport(Library, EntryPoint = "duckdb_table_function_set_function")]
        internal static partial void SetFunction(nint function, delegate* unmanaged<nint, nint, void> callback);

        [LibraryImport(Library, EntryPoint = "duckdb_table_function_supports_projection_pushdown")]
        internal static partial void SupportsProjectionPushdown(nint function, byte pushdown);

        [LibraryImport(Library, EntryPoint = "duckdb_register_table_function")]
        internal static partial DuckDbState Register(ConnectionHandle connection, nint function);

        // --- bind ---
        [LibraryImport(Library, EntryPoint = "duckdb_bind_get_extra_info")]
        internal static partial nint BindGetExtraInfo(nint info);

        [LibraryImport(Library, EntryPoint = "duckdb_bind_add_result_column", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial void BindAddResultColumn(nint info, string name, LogicalTypeHandle type);

        [LibraryImport(Library, EntryPoint = "duckdb_bind_get_parameter_count")]
        internal static partial ulong BindGetParameterCount(nint info);

        /// <summary>The caller destroys the returned value.</summary>
        [LibraryImport(Library, EntryPoint = "duckdb_bind_get_parameter")]
        internal static partial ValueHandle BindGetParameter(nint info, ulong index);

        [LibraryImport(Library, EntryPoint = "duckdb_bind_set_bind_data")]
        internal static partial void BindSetBindData(nint info, nint data, delegate* unmanaged<nint, void> destroy);

        [LibraryImport(Library, EntryPoint = "duckdb_bind_set_cardinality")]
        internal static partial void BindSetCardinality(nint info, ulong cardinality, byte isExact);

        [LibraryImport(Library, EntryPoint = "duckdb_bind_set_error", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial void BindSetError(nint info, string error);

        // --- init ---
        [LibraryImport(Library, EntryPoint = "duckdb_init_get_bind_data")]
        internal static partial nint InitGetBindData(nint info);

        [LibraryImport(Library, EntryPoint = "duckdb_init_set_init_data")]
        internal static partial void InitSetInitData(nint info, nint data, delegate* unmanaged<nint, void> destroy);

        [LibraryImport(Library, EntryPoint = "duckdb_init_get_column_count")]
        internal static partial ulong InitGetColumnCount(nint info);

        [LibraryImport(Library, EntryPoint = "duckdb_init_get_column_index")]
        internal static partial ulong InitGetColumnIndex(nint info, ulong index);

        [LibraryImport(Library, EntryPoint = "duckdb_init_set_max_threads")]
        internal static partial void InitSetMaxThreads(nint info, ulong maxThreads);

        [LibraryImport(Library, EntryPoint = "duckdb_init_set_error", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial void InitSetError(nint info, string error);

        // --- function ---
        [LibraryImport(Library, EntryPoint = "duckdb_function_get_init_data")]
        internal static partial nint FunctionGetInitData(nint info);

        [LibraryImport(Library, EntryPoint = "duckdb_function_set_error", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial void FunctionSetError(nint info, string error);
    }
}
