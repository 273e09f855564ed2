using System.CommandLine;

namespace TraceStore.Server.Cli;

/// <summary>
/// <c>tracestore serve</c>: the standalone ingest daemon. Until the server issue lands this command only
/// resolves and prints its configuration (data folder, the endpoints it will serve) and says plainly that
/// nothing is listening yet; it exits 0 so the README's first command works on a fresh machine.
/// </summary>
internal static class ServeCommand
{
    public const string DefaultDataFolder = "tracestore-data";
    public const string DefaultHttpEndpoint = "127.0.0.1:4318";
    public const string DefaultGrpcEndpoint = "127.0.0.1:4317";

    public static Command Create()
    {
        var data = new Option<DirectoryInfo>("--data")
        {
            Description = "Folder that holds the store (WAL, segments, catalog). Created if missing.",
            DefaultValueFactory = _ => new DirectoryInfo(DefaultDataFolder),
        };
        var http = new Option<string>("--http")
        {
            Description = "Address for OTLP/HTTP, the MLflow REST API, metrics and the UI.",
            DefaultValueFactory = _ => DefaultHttpEndpoint,
        };
        var grpc = new Option<string>("--grpc")
        {
            Description = "Address for OTLP/gRPC (HTTP/2 without TLS).",
            DefaultValueFactory = _ => DefaultGrpcEndpoint,
        };

        var command = new Command("serve", "Run the ingest daemon on a local data folder (not yet serving in this build: prints its plan).")
        {
            data,
            http,
            grpc,
        };
        command.SetAction(result =>
        {
            var output = result.InvocationConfiguration.Output;
            var dataFolder = result.GetValue(data)!.FullName;
            output.WriteLine($"tracestore {PrintVersionAction.Version} serve");
            output.WriteLine($"  data folder   {dataFolder}");
            output.WriteLine($"  OTLP/HTTP     http://{result.GetValue(http)}/v1/traces   (protobuf and JSON, gzip and deflate)");
            output.WriteLine($"  MLflow REST   http://{result.GetValue(http)}/api/2.0/mlflow/...");
            output.WriteLine($"  OTLP/gRPC     {result.GetValue(grpc)}   (h2c, TraceService/Export)");
            output.WriteLine();
            output.WriteLine("Not serving yet: the ingest daemon is not part of this build. Nothing is listening and no data folder was created.");
            return 0;
        });
        return command;
    }
}
