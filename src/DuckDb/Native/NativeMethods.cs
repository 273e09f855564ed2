using System.Runtime.InteropServices;

namespace TraceStore.DuckDb.Native;

/// <summary>
/// The DuckDB C API (duckdb.h, libduckdb 1.5.6), one nested class per section of the header.
/// Conventions, from toolchain.md's measured pitfalls:
/// <list type="bullet">
/// <item>C <c>const char*</c> returns are <see cref="nint"/> and read with <see cref="Marshal.PtrToStringUTF8(nint)"/>;
/// a <c>string</c> return type would make the marshaller free DuckDB-owned memory.</item>
/// <item>C <c>bool</c> is <see cref="byte"/>.</item>
/// <item>Owned objects cross as SafeHandles (created through <c>out</c>, destroyed only by the handle);
/// non-owned pointers that live inside a chunk (vectors, validity masks, callback infos) are raw <see cref="nint"/>.</item>
/// <item><see cref="SuppressGCTransitionAttribute"/> only on getters that neither allocate, lock nor call back.</item>
/// </list>
/// </summary>
internal static partial class NativeMethods
{
    internal const string Library = "duckdb";

    internal static unsafe string? ReadUtf8(nint text) => text == 0 ? null : Marshal.PtrToStringUTF8(text);

    /// <summary>Reads a DuckDB-allocated string and releases it with <c>duckdb_free</c>.</summary>
    internal static string? ReadUtf8AndFree(nint text)
    {
        if (text == 0)
        {
            return null;
        }

        try
        {
            return Marshal.PtrToStringUTF8(text);
        }
        finally
        {
            Startup.Free(text);
        }
    }
}
