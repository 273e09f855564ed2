using static TraceStore.Server.Tests.CliRunner;
using TraceStore.Server.Cli;

namespace TraceStore.Server.Tests;

public sealed class CliTests
{
    [Fact]
    public void Help_lists_the_serve_command_and_exits_zero()
    {
        var (exit, output, _) = Run("--help");

        Assert.Equal(0, exit);
        Assert.Contains("Usage:", output, StringComparison.Ordinal);
        Assert.Contains("serve", output, StringComparison.Ordinal);
        Assert.Contains("--version", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Version_prints_the_assembly_version()
    {
        var (exit, output, _) = Run("--version");

        Assert.Equal(0, exit);
        Assert.Equal(typeof(TraceStoreCli).Assembly.GetName().Version!.ToString(3), output.Trim().Split('+')[0]);
    }

    [Fact]
    public void Serve_prints_its_plan_and_says_nothing_is_listening()
    {
        var data = Path.Combine(Path.GetTempPath(), $"ts-serve-{Guid.NewGuid():N}");

        var (exit, output, _) = Run("serve", "--data", data, "--http", "127.0.0.1:14318");

        Assert.Equal(0, exit);
        Assert.Contains(data, output, StringComparison.Ordinal);
        Assert.Contains("http://127.0.0.1:14318/v1/traces", output, StringComparison.Ordinal);
        Assert.Contains("Nothing is listening", output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(data));
    }

    [Fact]
    public void Unknown_command_fails_with_a_message()
    {
        var (exit, _, error) = Run("frobnicate");

        Assert.NotEqual(0, exit);
        Assert.Contains("frobnicate", error, StringComparison.Ordinal);
    }
}
