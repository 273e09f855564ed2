using System.Buffers;
using System.CommandLine;
using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using TraceStore.DuckDb;
using TraceStore.Engine.Admission;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Segments;
using TraceStore.OtlpOracle;
using TraceStore.Protocol.Content;
using TraceStore.Protocol.Model;
using TraceStore.Protocol.Otlp;
using TraceStore.Query.Sql;
using TraceStore.Query.Text;

namespace TraceStore.Server.Cli;

/// <summary>
/// <c>tracestore bench text</c>: what the text index costs and gives. Seals <c>--spans</c> spans of a payload kind
/// (default genai-text, prose-like prompts) into default-size segments with a real <see cref="Sealer"/>, reports the
/// index's bytes (per span and as a share of the segments) and its build time (of the seal time), then times
/// <c>trace.text ILIKE '%word%'</c> for a common word, a rare one (once in the first segment) and one that occurs
/// nowhere, with the index and with every segment verified whole (plain ILIKE over the span text), taking turns,
/// medians of <c>--repeats</c>.
/// </summary>
internal static class BenchTextCommand
{
    public static Command Create()
    {
        var spans = new Option<int>("--spans") { Description = "Spans to seal and search.", DefaultValueFactory = _ => 100_000 };
        var repeats = new Option<int>("--repeats") { Description = "Timed searches per pattern and mode.", DefaultValueFactory = _ => 5 };
        var kind = new Option<string>("--kind") { Description = "Payload kind.", DefaultValueFactory = _ => OtlpBenchmarkPayloads.GenAiVariedText };
        var blockSpans = new Option<int>("--block-spans") { Description = "Spans per block of the text index.", DefaultValueFactory = _ => TextIndexFormat.BlockSpans };
        var folder = new Option<DirectoryInfo?>("--data") { Description = "Folder to write in (default: a new folder under the system temp folder, deleted after)." };
        var command = new Command("text", "Measure the text index: bytes, build time, and trace.text searches with and without it.") { spans, repeats, kind, blockSpans, folder };
        command.SetAction(result =>
        {
            var root = result.GetValue(folder)?.FullName ?? Path.Combine(Path.GetTempPath(), $"tracestore-bench-text-{Guid.NewGuid():N}");
            Directory.CreateDirectory(root);
            try
            {
                Run(root, result.GetValue(kind)!, Math.Max(1, result.GetValue(spans)), Math.Max(1, result.GetValue(repeats)), Math.Max(1, result.GetValue(blockSpans)), result.InvocationConfiguration.Output);
            }
            finally
            {
                if (result.GetValue(folder) is null)
                {
                    Directory.Delete(root, recursive: true);
                }
            }

            return 0;
        });
        return command;
    }

    private static void Run(string root, string kind, int spanCount, int repeats, int blockSpans, TextWriter output)
    {
        output.WriteLine($"bench text: {spanCount} {kind} spans, {repeats} repeats, index blocks of {blockSpans} spans, {Environment.ProcessorCount} cores, load average {BenchSealCommand.LoadAverage()}");
        using var catalog = SegmentCatalog.Open(root);
        var sealedSpans = Seal(catalog, kind, spanCount, blockSpans, output);
        var segments = catalog.Segments();
        long indexBytes = 0, allBytes = 0;
        foreach (var segment in segments)
        {
            foreach (var file in Directory.GetFiles(segment.Folder))
            {
                var length = new FileInfo(file).Length;
                allBytes += length;
                indexBytes += Path.GetFileName(file) is TextIndexFormat.GramsFile or TextIndexFormat.BlocksFile ? length : 0;
            }
        }

        output.WriteLine($"{segments.Count} segments, {sealedSpans} spans, {allBytes / (double)sealedSpans:F0} B/span on disk; text index {indexBytes / (double)sealedSpans:F1} B/span = {100.0 * indexBytes / allBytes:F1} % of the segments");

        var (common, rare) = Words(segments[0].Folder);
        var table = new BenchTable(
            ("search", "search", -10),
            ("pattern", "pattern", -24),
            ("mode", "mode", -6),
            ("median ms", "median_ms", 10),
            ("min ms", "min_ms", 8),
            ("spans", "matched_spans", 8),
            ("traces", "matched_traces", 7),
            ("indexed", "indexed_segments", 8),
            ("ruled out", "segments_ruled_out", 10),
            ("blocks", "candidate_blocks", 12));
        using var session = new TraceQuerySession(catalog);
        var searches = new[] { ("common", $"%{common}%"), ("rare", $"%{rare}%"), ("no match", "%qzxjvkwp%") };
        foreach (var (label, pattern) in searches)
        {
            var times = new Dictionary<bool, List<double>> { [true] = [], [false] = [] };
            var results = new Dictionary<bool, TextSearchResult>();
            for (var round = 0; round <= repeats; round++)
            {
                foreach (var useIndex in new[] { round % 2 == 0, round % 2 != 0 })
                {
                    var search = new TextSearch(session) { UseIndex = useIndex };
                    var started = Stopwatch.GetTimestamp();
                    var result = search.Search("0", pattern, ignoreCase: true);
                    var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                    if (round > 0)
                    {
                        times[useIndex].Add(ms);
                    }

                    results[useIndex] = result;
                }
            }

            if (!results[true].Spans.SequenceEqual(results[false].Spans))
            {
                throw new InvalidOperationException($"{pattern}: the index gave {results[true].Spans.Count} spans, the scan {results[false].Spans.Count}.");
            }

            foreach (var useIndex in new[] { true, false })
            {
                var r = results[useIndex];
                var sorted = times[useIndex].Order().ToList();
                table.Add(label, pattern, useIndex ? "index" : "scan", sorted[sorted.Count / 2], sorted[0], r.Spans.Count, r.TraceIds.Count,
                    r.Stats.IndexedSegments, r.Stats.SkippedSegments, useIndex ? $"{r.Stats.CandidateBlocks}/{r.Stats.Blocks}" : "-");
            }
        }

        table.Write(output, "table");
        output.WriteLine($"load average after: {BenchSealCommand.LoadAverage()}");
    }

    /// <summary>Seals about <paramref name="spanCount"/> spans as default-size segments; prints the seal time and the
    /// part of it that built the text index.</summary>
    private static long Seal(SegmentCatalog catalog, string kind, int spanCount, int blockSpans, TextWriter output)
    {
        var budget = new MemoryBudget(64L << 30);
        var assembler = new SpanAssembler(new AssemblerOptions(), budget);
        using var writer = new SegmentWriter(catalog.SegmentsFolder, new SegmentWriterOptions { TextIndex = true, TextIndexBlockSpans = blockSpans });
        var options = new SealerOptions();
        var sealer = new Sealer(assembler, budget, writer, catalog, () => { }, options, NullLogger.Instance);
        try
        {
            var requests = new BenchRequests(kind, spansPerTrace: 10);
            using var decoder = new OtlpRequestDecoder();
            var batch = new SpanBatch();
            long spans = 0, grown = 0, sequence = 0;
            var seal = TimeSpan.Zero;
            while (spans < spanCount)
            {
                decoder.Decode(new ReadOnlySequence<byte>(requests.Next().Body), OtlpPayloadFormat.Protobuf, OtlpContentEncoding.Identity, batch);
                grown += assembler.Add(batch, "0", ++sequence).GrownBytes;
                spans += batch.Spans.Count;
                if (grown >= options.MaxSegmentBufferBytes || spans >= spanCount)
                {
                    var started = Stopwatch.GetTimestamp();
                    sealer.SealNow(everything: true);
                    seal += Stopwatch.GetElapsedTime(started);
                    grown = 0;
                    if (sealer.LastError is { } error)
                    {
                        throw new InvalidOperationException(error.Message, error);
                    }
                }
            }

            output.WriteLine($"sealed in {seal.TotalSeconds:F1} s ({spans / seal.TotalSeconds:F0} spans/s), of which the text index {writer.Profile.Text.TotalSeconds:F1} s ({100 * writer.Profile.Text / seal:F0} %)");
            return spans;
        }
        finally
        {
            sealer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>The most frequent word (6+ letters) of the first segment's inputs and outputs, and one that occurs once.</summary>
    private static (string Common, string Rare) Words(string segmentFolder)
    {
        using var database = DuckDbDatabase.OpenInMemory();
        using var connection = database.Connect();
        var payloads = DuckDbSql.Literal(Path.Combine(segmentFolder, SegmentFormat.PayloadsFile));
        using var result = connection.Query(
            $"SELECT w, count(*) AS c FROM (SELECT unnest(regexp_split_to_array(lower(coalesce(inputs, '') || ' ' || coalesce(outputs, '')), '[^a-z]+')) AS w FROM read_parquet({payloads})) " +
            "WHERE length(w) >= 6 GROUP BY w ORDER BY c DESC, w");
        var rows = result.ReadAllRows();
        var common = (string)rows[0][0]!;
        var rare = (string)(rows.FirstOrDefault(r => (long)r[1]! == 1) ?? rows[^1])[0]!;
        return (common, rare);
    }
}
