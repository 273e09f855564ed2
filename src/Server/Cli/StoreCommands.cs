using System.CommandLine;
using System.Text.Json;
using TraceStore.Engine;
using TraceStore.Engine.Wal;
using TraceStore.Query.Traces;

namespace TraceStore.Server.Cli;

/// <summary>
/// Offline commands on a store folder (none of them may run while a daemon has the folder open: the folder's lock
/// refuses them with exit 4): <c>seal</c> seals every open trace now, <c>stats</c> counts what the store holds,
/// <c>get</c> prints one trace (sealed or still open; whole, or a page of spans at a time), <c>compact</c> runs a
/// compaction pass. Each opens the store, which recovers and replays its WAL first.
/// </summary>
internal static class StoreCommands
{
    public const int NotFound = 1;
    public const int InvalidArguments = 2;
    public const int Corrupt = 3;
    public const int InUse = 4;

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static IEnumerable<Command> Create() => [Seal(), Stats(), Get(), Compact()];

    private static Command Seal()
    {
        var data = DataOption();
        var command = new Command("seal", "Seal every open trace of the store into a segment now.") { data };
        command.SetAction(result => WithStore(result, data, store =>
        {
            var open = store.GetStats().OpenTraces;
            var written = store.SealAll();
            var stats = store.GetStats();
            result.InvocationConfiguration.Output.WriteLine($"sealed {written} traces ({open} were open); {stats.Segments} segments, {stats.SealedSpans:N0} spans sealed");
            return 0;
        }));
        return command;
    }

    private static Command Stats()
    {
        var data = DataOption();
        var format = FormatOption();
        var command = new Command("stats", "Count what the store holds: experiments, traces, spans, segments, bytes, WAL, open traces.") { data, format };
        command.SetAction(result => WithStore(result, data, store =>
        {
            var s = store.GetStats();
            var output = result.InvocationConfiguration.Output;
            var bytesPerSpan = s.SealedSpans == 0 ? 0 : (double)s.SegmentBytes / s.SealedSpans;
            if (result.GetValue(format) == "json")
            {
                output.WriteLine(JsonSerializer.Serialize(
                    new
                    {
                        experiments = s.Experiments,
                        traces = s.SealedTraces,
                        spans = s.SealedSpans,
                        segments = s.Segments,
                        segment_bytes = s.SegmentBytes,
                        bytes_per_span = Math.Round(bytesPerSpan, 1),
                        wal_bytes = s.WalBytes,
                        open_traces = s.OpenTraces,
                        replayed_records = s.ReplayedRecords,
                    },
                    Indented));
                return 0;
            }

            output.WriteLine($"experiments   {string.Join(", ", s.Experiments)}");
            output.WriteLine($"traces        {s.SealedTraces:N0} sealed (a trace sealed in parts counts per part), {s.OpenTraces:N0} open");
            output.WriteLine($"spans         {s.SealedSpans:N0} sealed");
            output.WriteLine($"segments      {s.Segments:N0}, {s.SegmentBytes:N0} bytes, {bytesPerSpan:F1} bytes/span");
            output.WriteLine($"wal           {s.WalBytes:N0} bytes, {s.ReplayedRecords:N0} records replayed at open");
            return 0;
        }));
        return command;
    }

    private static Command Get()
    {
        var data = DataOption();
        var format = FormatOption();
        var traceId = new Argument<string>("TRACE_ID") { Description = "MLflow trace id: tr- and 32 hex digits." };
        var pageSize = new Option<int?>("--page-size") { Description = $"Print one page of at most N spans (1-{TraceReader.MaxPageSize}), ordered by start time, and the token of the next page; for traces too large to print whole." };
        var pageToken = new Option<string?>("--page-token") { Description = "Continue after the page that printed this next_page_token (with --page-size)." };
        var command = new Command("get", "Print one trace, sealed or still open: its summary and spans (--format json: MLflow's GetTrace response body, plus next_page_token when paged).") { data, traceId, format, pageSize, pageToken };
        command.SetAction(result => WithStore(result, data, store =>
        {
            using var reader = TraceReader.Open(store);
            var id = result.GetValue(traceId)!;
            var size = result.GetValue(pageSize);
            var token = result.GetValue(pageToken);
            var error = result.InvocationConfiguration.Error;
            if (size is null && token is not null)
            {
                error.WriteLine("get: --page-token needs --page-size.");
                return InvalidArguments;
            }

            TracePage? found;
            try
            {
                found = size is { } n
                    ? reader.GetPage(id, n, token)
                    : reader.Get(id) is { } trace ? new TracePage(trace.Summary, trace.Spans, NextPageToken: null) : null;
            }
            catch (TraceStoreQueryException e)
            {
                error.WriteLine($"get: {e.Message}");
                return InvalidArguments;
            }

            if (found is null)
            {
                error.WriteLine($"get: trace {id} is not in the store.");
                return NotFound;
            }

            var output = result.InvocationConfiguration.Output;
            if (result.GetValue(format) == "json")
            {
                output.WriteLine(GetTraceJson.ToJson(found));
                return 0;
            }

            var (summary, spans, next) = found;
            output.WriteLine($"trace       {summary.TraceId} (experiment {summary.ExperimentId})");
            output.WriteLine($"name        {summary.TraceName}");
            output.WriteLine($"state       {summary.State}, {summary.ExecutionDurationMs?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"} ms, {summary.SpanCount} spans");
            output.WriteLine($"tokens      {summary.TokenUsage?.InputTokens ?? 0} in / {summary.TokenUsage?.OutputTokens ?? 0} out / {summary.TokenUsage?.TotalTokens ?? 0} total");
            foreach (var span in spans)
            {
                output.WriteLine($"  {span.SpanId} {(span.ParentSpanId is null ? "root" : "<- " + span.ParentSpanId)} {span.Name} [{span.Status}]");
            }

            if (size is not null)
            {
                output.WriteLine(next is null ? "last page" : $"next_page_token {next}");
            }

            return 0;
        }));
        return command;
    }

    private static Command Compact()
    {
        var data = DataOption();
        var format = FormatOption();
        var command = new Command("compact", "Compact the store now: merge small segments, drop deleted traces, fold tag changes into segments.") { data, format };
        command.SetAction(result => WithStore(result, data, store =>
        {
            var before = store.GetStats().Segments;
            var r = store.CompactNow();
            var after = store.GetStats().Segments;
            var output = result.InvocationConfiguration.Output;
            if (result.GetValue(format) == "json")
            {
                output.WriteLine(JsonSerializer.Serialize(
                    new
                    {
                        segments_before = before,
                        segments_after = after,
                        bytes_before = r.BytesBefore,
                        bytes_after = r.BytesAfter,
                        merges = r.Merges,
                        segments_merged = r.SegmentsMerged,
                        segments_dropped = r.SegmentsDropped,
                        segments_rewritten = r.SegmentsRewritten,
                        deletions_purged = r.DeletionsPurged,
                    },
                    Indented));
                return 0;
            }

            output.WriteLine($"segments    {before:N0} -> {after:N0} ({r.Merges} merges of {r.SegmentsMerged} segments, {r.SegmentsRewritten} rewritten, {r.SegmentsDropped} dropped)");
            output.WriteLine($"bytes       {r.BytesBefore:N0} -> {r.BytesAfter:N0}");
            output.WriteLine($"deletions   {r.DeletionsPurged:N0} purged (no segment holds those traces any more)");
            return 0;
        }));
        return command;
    }

    private static int WithStore(ParseResult result, Option<DirectoryInfo> data, Func<Engine.TraceStore, int> action)
    {
        var error = result.InvocationConfiguration.Error;
        try
        {
            var store = Engine.TraceStore.Open(new TraceStoreOptions { DataDirectory = result.GetValue(data)!.FullName });
            try
            {
                return action(store);
            }
            finally
            {
                store.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }
        catch (WalCorruptionException e)
        {
            error.WriteLine($"{result.CommandResult.Command.Name}: {e.Message}");
            return Corrupt;
        }
        catch (DataFolderInUseException e)
        {
            error.WriteLine($"{result.CommandResult.Command.Name}: {e.Message}");
            return InUse;
        }
    }

    private static Option<DirectoryInfo> DataOption() => new("--data") { Description = "The store's data folder.", Required = true };

    private static Option<string> FormatOption()
    {
        var format = new Option<string>("--format") { Description = "Output format.", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "json");
        return format;
    }
}
