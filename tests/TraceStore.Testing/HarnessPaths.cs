namespace TraceStore.Testing;

/// <summary>Where the child-process harnesses under tests/ are built, for the configuration the running test uses.</summary>
public static class HarnessPaths
{
    /// <summary>The main assembly of <paramref name="project"/> (e.g. TraceStore.CrashHarness), built beside this test.</summary>
    public static string Assembly(string project)
    {
        var framework = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = framework.Parent!.Name;
        var path = RepositoryPaths.Combine("tests", project, "bin", configuration, framework.Name, project + ".dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"Build {project} first: {path} is missing.");
    }
}
