using System.Reflection;
using System.Xml.Linq;
using Xunit;

namespace TraceStore.Testing;

/// <summary>
/// Checks the dependency arrows of DESIGN.md ("Layers and what each may touch") for one src project: its
/// csproj may reference only the listed projects of ours, and its compiled assembly may reference only
/// those assemblies of ours.
/// </summary>
public static class LayeringAssert
{
    public static void ReferencesOnly(string projectFolder, Assembly compiled, params string[] allowed)
    {
        var csproj = Directory.GetFiles(RepositoryPaths.Combine("src", projectFolder), "*.csproj").Single();
        var referenced = XDocument.Load(csproj).Descendants("ProjectReference")
            .Select(r => Path.GetFileNameWithoutExtension((string)r.Attribute("Include")!))
            .ToList();
        var forbidden = referenced.Except(allowed).ToList();
        Assert.True(forbidden.Count == 0, $"{Path.GetFileName(csproj)} references {string.Join(", ", forbidden)}, outside its layer (allowed: {string.Join(", ", allowed)}).");

        var ours = compiled.GetReferencedAssemblies()
            .Select(a => a.Name!)
            .Where(n => n.StartsWith("TraceStore.", StringComparison.Ordinal) || n == "tracestore")
            .ToList();
        var forbiddenAssemblies = ours.Except(allowed).ToList();
        Assert.True(forbiddenAssemblies.Count == 0, $"{compiled.GetName().Name} uses {string.Join(", ", forbiddenAssemblies)}, outside its layer.");
    }
}
