using System.CommandLine;

namespace TraceStore.Server.Cli;

/// <summary>The <c>tracestore</c> command line. Each command lives in its own class and adds itself here.</summary>
public static class TraceStoreCli
{
    public const string Description =
        "TraceStore: OTLP trace ingestion and storage for GenAI observability, answering MLflow search_traces queries.";

    public static RootCommand Build()
    {
        var root = new RootCommand(Description);
        root.Options.OfType<VersionOption>().Single().Action = new PrintVersionAction();
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(IngestCommand.Create());
        root.Subcommands.Add(DecodeCommand.Create());
        foreach (var command in StoreCommands.Create())
        {
            root.Subcommands.Add(command);
        }

        root.Subcommands.Add(VerifyCommand.Create());
        root.Subcommands.Add(BenchDecodeCommand.Create());
        return root;
    }

    /// <summary>Parses and runs <paramref name="args"/>; output and errors go to the given writers (console by default).</summary>
    public static int Run(string[] args, TextWriter? output = null, TextWriter? error = null)
    {
        var configuration = new InvocationConfiguration();
        if (output is not null)
        {
            configuration.Output = output;
        }

        if (error is not null)
        {
            configuration.Error = error;
        }

        return Build().Parse(args).Invoke(configuration);
    }
}
