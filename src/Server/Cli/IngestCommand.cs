using System.CommandLine;
using System.Text.Json;
using TraceStore.Engine;
using TraceStore.Engine.Ingest;
using TraceStore.Engine.Wal;

namespace TraceStore.Server.Cli;

/// <summary>
/// <c>tracestore ingest --data DIR FILE...</c>: ingests OTLP payload files into a store, durably (each file is
/// acknowledged only once its WAL record is fsynced), and prints one line per file. Files are ingested concurrently
/// (they share fsyncs) with the waiting variant of ingest, so a bulk load is never refused as overloaded.
/// Exit codes: 0 every file accepted (partial-success span rejections are reported, not failures), 1 a file could
/// not be read, 2 a file was refused as bad input, 3 the WAL is corrupt, 4 the store could not write (disk full,
/// storage failure) or its folder is in use.
/// </summary>
internal static class IngestCommand
{
    public const int Unreadable = 1;
    public const int Refused = 2;
    public const int Corrupt = 3;
    public const int StorageFailed = 4;

    /// <summary>Files in flight at once: enough for them to share fsyncs, few enough to keep memory small.</summary>
    private const int Concurrency = 16;

    public static Command Create()
    {
        var data = new Option<DirectoryInfo>("--data") { Description = "The store's data folder (created if missing).", Required = true };
        var files = new Argument<FileInfo[]>("FILE") { Description = "OTLP/HTTP request bodies: protobuf or JSON, optionally gzip- or deflate-compressed.", Arity = ArgumentArity.OneOrMore };
        var experiment = new Option<string?>("--experiment") { Description = "Experiment id for every file (default: the default experiment, 0)." };
        var contentType = PayloadFiles.ContentTypeOption();
        var contentEncoding = PayloadFiles.ContentEncodingOption();
        var format = new Option<string>("--format") { Description = "Output format.", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "json");
        var command = new Command("ingest", "Ingest OTLP payload files into a store durably and print the result for each file.")
        {
            data, files, experiment, contentType, contentEncoding, format,
        };
        command.SetAction(async (result, cancellation) =>
        {
            var error = result.InvocationConfiguration.Error;
            try
            {
                var store = Engine.TraceStore.Open(new TraceStoreOptions { DataDirectory = result.GetValue(data)!.FullName });
                await using (store.ConfigureAwait(false))
                {
                    var outcomes = await IngestAll(store, result.GetValue(files)!, result.GetValue(experiment), result.GetValue(contentType), result.GetValue(contentEncoding), cancellation).ConfigureAwait(false);
                    Write(outcomes, store.GetStats(), result.GetValue(format)!, result.InvocationConfiguration.Output);
                    return outcomes.Select(o => o.ExitCode).DefaultIfEmpty(0).Max();
                }
            }
            catch (WalCorruptionException e)
            {
                error.WriteLine($"ingest: {e.Message}");
                error.WriteLine("ingest: run `tracestore verify --data DIR` for details, and `--repair` to quarantine the damage.");
                return Corrupt;
            }
            catch (DataFolderInUseException e)
            {
                error.WriteLine($"ingest: {e.Message}");
                return StorageFailed;
            }
        });
        return command;
    }

    internal sealed record FileOutcome(string File, string Outcome, int AcceptedSpans, long RejectedSpans, long WalSequence, string Message, int ExitCode);

    private static async Task<List<FileOutcome>> IngestAll(Engine.TraceStore store, FileInfo[] files, string? experiment, string? contentType, string? contentEncoding, CancellationToken cancellation)
    {
        var outcomes = new FileOutcome?[files.Length];
        using var slots = new SemaphoreSlim(Concurrency);
        var tasks = files.Select(async (file, index) =>
        {
            await slots.WaitAsync(cancellation).ConfigureAwait(false);
            try
            {
                outcomes[index] = await IngestOne(store, file, experiment, contentType, contentEncoding, cancellation).ConfigureAwait(false);
            }
            finally
            {
                slots.Release();
            }
        }).ToList();
        await Task.WhenAll(tasks).ConfigureAwait(false);
        return [.. outcomes.Select(o => o!)];
    }

    private static async Task<FileOutcome> IngestOne(Engine.TraceStore store, FileInfo file, string? experiment, string? contentType, string? contentEncoding, CancellationToken cancellation)
    {
        byte[] bytes;
        try
        {
            bytes = await File.ReadAllBytesAsync(file.FullName, cancellation).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new FileOutcome(file.Name, "unreadable", 0, 0, 0, e.Message, Unreadable);
        }

        var (format, encoding) = PayloadFiles.Resolve(file.Name, bytes, contentType, contentEncoding);
        var result = await store.IngestWaitingAsync(new OtlpPayload(bytes, format, encoding), experiment, cancellation).ConfigureAwait(false);
        var exitCode = result.Outcome switch
        {
            IngestOutcome.Accepted => 0,
            IngestOutcome.Rejected => Refused,
            _ => StorageFailed,
        };
        return new FileOutcome(file.Name, result.Outcome.ToString().ToLowerInvariant(), result.AcceptedSpans, result.RejectedSpans, result.WalSequence, result.Message, exitCode);
    }

    private static void Write(List<FileOutcome> outcomes, TraceStoreStats stats, string format, TextWriter output)
    {
        if (format == "json")
        {
            output.WriteLine(JsonSerializer.Serialize(
                new { files = outcomes.Select(o => new { file = o.File, outcome = o.Outcome, accepted_spans = o.AcceptedSpans, rejected_spans = o.RejectedSpans, wal_sequence = o.WalSequence, message = o.Message }), last_wal_sequence = stats.LastWalSequence },
                JsonOptions));
            return;
        }

        var width = Math.Max(4, outcomes.Max(o => o.File.Length));
        output.WriteLine($"{"file".PadRight(width)}  {"outcome",-10} {"spans",7} {"rejected",8} {"wal seq",8}  message");
        foreach (var o in outcomes)
        {
            output.WriteLine($"{o.File.PadRight(width)}  {o.Outcome,-10} {o.AcceptedSpans,7} {o.RejectedSpans,8} {o.WalSequence,8}  {o.Message}");
        }

        output.WriteLine($"{outcomes.Count(o => o.ExitCode == 0)} of {outcomes.Count} files accepted, {outcomes.Sum(o => o.AcceptedSpans)} spans; WAL at sequence {stats.LastWalSequence}");
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };
}
