namespace TraceStore.Testing;

/// <summary>Locates the repository (the folder holding TraceStore.sln) from a test's output folder.</summary>
public static class RepositoryPaths
{
    private static readonly Lazy<string> RootPath = new(FindRoot);

    public static string Root => RootPath.Value;

    public static string Combine(params string[] parts) => Path.Combine([Root, .. parts]);

    /// <summary>../shared/testdata/otlp: OTLP payloads captured from real clients, with manifest.json.</summary>
    public static string OtlpTestData => Path.Combine(Path.GetDirectoryName(Root)!, "shared", "testdata", "otlp");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TraceStore.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No TraceStore.sln above {AppContext.BaseDirectory}.");
    }
}
