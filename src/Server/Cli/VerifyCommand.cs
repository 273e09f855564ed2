using System.CommandLine;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Segments;
using TraceStore.Engine.Wal;

namespace TraceStore.Server.Cli;

/// <summary>
/// <c>tracestore verify --data DIR [--repair]</c>: checks the store's write-ahead log (<c>DIR/wal</c>), every record's
/// checksum and sequence, and, when the store has sealed segments, each committed segment against the catalog
/// (files present, readable, of this format version, with the catalog's counts). Exit 0 when it is sound (a torn tail from a crash is reported, not an error), 3 on
/// corruption (segment and byte offset on stderr). With <c>--repair</c> a torn tail is cut and corruption is moved
/// to <c>DIR/wal/quarantine</c>, after which the log is sound (exit 0) but what was quarantined is no longer replayed.
/// </summary>
internal static class VerifyCommand
{
    public const int Corrupt = 3;

    public static Command Create()
    {
        var data = new Option<DirectoryInfo>("--data") { Description = "The store's data folder.", Required = true };
        var repair = new Option<bool>("--repair") { Description = "Cut a torn tail and quarantine corrupt records (changes the log)." };
        var command = new Command("verify", "Check the write-ahead log for torn writes and corruption; optionally repair it.") { data, repair };
        command.SetAction(result =>
        {
            var output = result.InvocationConfiguration.Output;
            var error = result.InvocationConfiguration.Error;
            var folder = Path.Combine(result.GetValue(data)!.FullName, "wal");
            if (!Directory.Exists(folder))
            {
                error.WriteLine($"verify: {folder} does not exist: no write-ahead log here.");
                return 1;
            }

            var verification = WalMaintenance.Verify(folder, result.GetValue(repair));
            if (verification.Corruption is { } corruption && verification.Result is null)
            {
                error.WriteLine($"verify: {corruption.Message}");
                error.WriteLine("verify: run again with --repair to move the damaged records to quarantine.");
                return Corrupt;
            }

            var log = verification.Result!;
            output.WriteLine($"wal         {folder}");
            output.WriteLine($"segments    {log.Segments.Count}");
            output.WriteLine($"records     {log.Records:N0} ({log.Bytes:N0} bytes)");
            output.WriteLine($"next seq    {log.NextSequence}");
            if (log.TornTail is { } torn)
            {
                output.WriteLine($"torn tail   {torn.Segment} at byte {torn.Offset}: {torn.Reason}; {torn.DroppedBytes} bytes {(result.GetValue(repair) ? "cut" : "to cut on next open")}");
            }

            if (verification.Corruption is { } repaired)
            {
                output.WriteLine($"repaired    {repaired.Message}");
                foreach (var moved in verification.Quarantined)
                {
                    output.WriteLine($"quarantined {moved}");
                }
            }

            var dataFolder = result.GetValue(data)!.FullName;
            if (File.Exists(Path.Combine(dataFolder, SegmentCatalog.FileName)) && !VerifySegments(dataFolder, result.GetValue(repair), output, error))
            {
                return Corrupt;
            }

            output.WriteLine("status      sound");
            return 0;
        });
        return command;
    }

    /// <summary>Checks the committed segments against the catalog; false on corruption. Folders without a catalog row
    /// are reported (and removed with <c>--repair</c>): they are never read and go at the next open anyway.</summary>
    private static bool VerifySegments(string dataFolder, bool repair, TextWriter output, TextWriter error)
    {
        using var catalog = SegmentCatalog.Open(dataFolder);
        var segments = SegmentVerifier.Verify(catalog);
        output.WriteLine($"sealed      {segments.Segments} segments, {segments.Traces:N0} traces, {segments.Spans:N0} spans, {segments.Bytes:N0} bytes");
        foreach (var folder in segments.Uncommitted)
        {
            output.WriteLine($"uncommitted {folder} {(repair ? "removed" : "(never committed: removed at the next open)")}");
        }

        foreach (var folder in segments.Retired)
        {
            output.WriteLine($"retired     {folder} {(repair ? "removed" : "(replaced by compaction: removed at the next open)")}");
        }

        if (repair)
        {
            catalog.RemoveRetired();
            catalog.RemoveUncommitted();
        }

        foreach (var problem in segments.Problems)
        {
            error.WriteLine($"verify: {problem}");
        }

        return segments.Problems.Count == 0;
    }
}
