namespace TraceStore.Testing;

/// <summary>The <c>dotnet</c> host running the tests, for starting child processes (MSBuild, crash harnesses).</summary>
public static class DotnetHost
{
    public static string Path { get; } =
        Environment.ProcessPath is { } path && System.IO.Path.GetFileNameWithoutExtension(path) == "dotnet"
            ? path
            : System.IO.Path.GetFullPath(System.IO.Path.Combine(System.IO.Path.GetDirectoryName(typeof(object).Assembly.Location)!, "..", "..", "..", "dotnet"));
}
