using TraceStore.Server.Cli;

namespace TraceStore.Server.Tests;

/// <summary>Runs the tracestore command line in-process and captures what it writes.</summary>
internal static class CliRunner
{
    public static (int Exit, string Output, string Error) Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = TraceStoreCli.Run(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }
}
