using System.Diagnostics;
using TraceStore.Testing;

namespace TraceStore.DuckDb.Tests;

/// <summary>
/// The build-time fetch of libduckdb.so (build/DuckDb.Native.targets) fails loudly and installs nothing when
/// npm is missing or the download does not match the pinned sha256. Each test runs the real MSBuild target
/// against a fresh cache folder.
/// </summary>
public sealed class NativeLibraryFetchTests
{
    private static readonly string Project = RepositoryPaths.Combine("src", "DuckDb", "TraceStore.DuckDb.csproj");

    [Fact]
    public void Missing_npm_fails_the_build_with_what_to_do()
    {
        using var cache = new TempDirectory("duckdb-cache");
        using var bin = new TempDirectory("path-without-npm");
        File.CreateSymbolicLink(Path.Combine(bin.Path, "dotnet"), DotnetHost.Path);
        File.CreateSymbolicLink(Path.Combine(bin.Path, "sh"), "/bin/sh"); // MSBuild's Exec runs commands through sh

        var (exit, output) = RunTarget(cache.Path, pathVariable: bin.Path);

        Assert.NotEqual(0, exit);
        Assert.Contains("npm was not found on PATH", output, StringComparison.Ordinal);
        Assert.Contains("apt-get install -y nodejs npm", output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(cache.Path, "libduckdb.so")));
    }

    [Fact]
    public void Checksum_mismatch_fails_the_build_and_installs_nothing()
    {
        using var cache = new TempDirectory("duckdb-cache");
        var wrong = new string('0', 64);

        var (exit, output) = RunTarget(cache.Path, expectedSha256: wrong);

        Assert.NotEqual(0, exit);
        Assert.Contains($"expected {wrong}", output, StringComparison.Ordinal);
        Assert.Contains("has sha256 3f4962cdd266eab2b479a5b5a4a6d063d279b2954ae814ed00385d553b747633", output, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(cache.Path));
    }

    [Fact]
    public void Existing_library_with_the_wrong_checksum_is_refused()
    {
        using var cache = new TempDirectory("duckdb-cache");
        File.WriteAllText(Path.Combine(cache.Path, "libduckdb.so"), "not a library");

        var (exit, output) = RunTarget(cache.Path);

        Assert.NotEqual(0, exit);
        Assert.Contains("Delete the file and build again", output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(cache.Path, "libduckdb.so.sha256-verified")));
    }

    private static (int Exit, string Output) RunTarget(string cacheDirectory, string? expectedSha256 = null, string? pathVariable = null)
    {
        var start = new ProcessStartInfo(DotnetHost.Path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
        {
            "msbuild", Project, "-t:EnsureDuckDbNative", "-nologo", "-nodeReuse:false",
            $"-p:DuckDbNativeCacheDir={cacheDirectory}/",
        })
        {
            start.ArgumentList.Add(argument);
        }

        if (expectedSha256 is not null)
        {
            start.ArgumentList.Add($"-p:DuckDbSha256={expectedSha256}");
        }

        if (pathVariable is not null)
        {
            start.Environment["PATH"] = pathVariable;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("dotnet msbuild did not finish within 3 minutes.");
        }

        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
