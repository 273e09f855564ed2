using System.CommandLine;
using System.CommandLine.Invocation;
using System.Reflection;

namespace TraceStore.Server.Cli;

/// <summary>
/// <c>--version</c>: TraceStore's own version. System.CommandLine's default prints the entry assembly's version,
/// which is the host's, not ours, whenever the CLI runs inside another process (tests, embedding).
/// </summary>
internal sealed class PrintVersionAction : SynchronousCommandLineAction
{
    public static string Version { get; } =
        typeof(PrintVersionAction).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? typeof(PrintVersionAction).Assembly.GetName().Version!.ToString(3);

    public override int Invoke(ParseResult parseResult)
    {
        parseResult.InvocationConfiguration.Output.WriteLine(Version);
        return 0;
    }
}
