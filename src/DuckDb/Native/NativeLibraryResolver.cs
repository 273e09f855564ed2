using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace TraceStore.DuckDb.Native;

/// <summary>
/// Finds libduckdb.so for <c>[LibraryImport("duckdb")]</c>: the path in <c>TRACESTORE_LIBDUCKDB</c> if set,
/// else libduckdb.so next to this assembly (where the build copies it), else the application base folder.
/// Failing all three, the load error says where it looked and how to get the library.
/// </summary>
internal static class NativeLibraryResolver
{
    internal const string PathVariable = "TRACESTORE_LIBDUCKDB";
    private const string FileName = "libduckdb.so";

#pragma warning disable CA2255 // A module initializer is the one hook that runs before any P/Invoke of this assembly binds.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Register() =>
        NativeLibrary.SetDllImportResolver(typeof(NativeLibraryResolver).Assembly, Resolve);

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName != NativeMethods.Library)
        {
            return 0;
        }

        var candidates = Candidates().ToList();
        foreach (var path in candidates)
        {
            if (File.Exists(path))
            {
                return NativeLibrary.Load(path);
            }
        }

        throw new DllNotFoundException(
            $"libduckdb.so was not found (looked in: {string.Join(", ", candidates)}). " +
            "Building the solution fetches it (see build/DuckDb.Native.targets); " +
            $"or point {PathVariable} at a libduckdb.so of DuckDB 1.5.6.");
    }

    private static IEnumerable<string> Candidates()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(PathVariable);
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            yield return fromEnvironment;
        }

        var assemblyDirectory = Path.GetDirectoryName(typeof(NativeLibraryResolver).Assembly.Location);
        if (!string.IsNullOrEmpty(assemblyDirectory))
        {
            yield return Path.Combine(assemblyDirectory, FileName);
        }

        yield return Path.Combine(AppContext.BaseDirectory, FileName);
    }
}
