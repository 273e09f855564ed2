using FsCheck;
using FsCheck.Fluent;
using Microsoft.Extensions.Logging.Abstractions;
using TraceStore.DuckDb;
using TraceStore.Engine.Admission;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Segments;
using TraceStore.Engine.Traces;
using TraceStore.Testing;
using static TraceStore.Engine.Tests.Assembly.OtlpTrace;
using OtlpSpan = OpenTelemetry.Proto.Trace.V1.Span;
using OtlpStatusCode = OpenTelemetry.Proto.Trace.V1.Status.Types.StatusCode;

namespace TraceStore.Engine.Tests.Segments;

/// <summary>
/// A trace sealed in parts (late spans, retries, large traces): each part stores only spans not stored before, and
/// the summary sealed with the last part equals the summary of the whole trace in arrival order.
/// </summary>
public sealed class SealedPartsSummaryTests
{
    private static readonly string TraceId = "tr-" + Convert.ToHexStringLower(TraceIdBytes);

    [Fact]
    public void Any_split_into_sealed_parts_gives_the_summary_of_the_whole_trace_and_stores_each_span_once()
    {
        Prop.ForAll(
            Arb.From(Gen.Choose(0, int.MaxValue)),
            seed =>
            {
                var parts = RandomParts(new Random(seed));
                var expected = TraceSummaryBuilder.Build(Buffer([.. parts]));
                var (actual, storedRows, distinctSpans) = SealInParts(parts);
                AssertSameSummary(expected, actual);
                Assert.Equal(expected.SpanCount, distinctSpans);
                Assert.Equal(distinctSpans, storedRows);
            }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void A_late_parent_with_usage_lowers_the_sum_over_earlier_sealed_children()
    {
        // Sealed first: a root and an SDK span with usage whose parent has not arrived (counts as top-level). Then
        // the instrumentation span between them arrives with the same usage: the child no longer counts.
        var usage = """{"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}""";
        byte[][] parts =
        [
            Request("svc", Root(), Span(3, 2, "sdk call", attributes: ("mlflow.chat.tokenUsage", usage))),
            Request("svc", Span(2, 1, "llm", attributes: ("mlflow.chat.tokenUsage", usage))),
        ];

        var (summary, storedRows, _) = SealInParts(parts);

        Assert.Equal(15, summary.TokenUsage!.Value.TotalTokens);
        Assert.Equal(3, summary.SpanCount);
        Assert.Equal(3, storedRows);
    }

    [Fact]
    public async Task A_retry_of_sealed_spans_writes_nothing_and_gives_its_memory_back()
    {
        var request = Request("svc", Root(), Span(2, 1, "child"));
        using var folder = new TempDirectory("parts");
        var budget = new MemoryBudget(64L << 20);
        using var catalog = SegmentCatalog.Open(folder.Path);
        using var writer = new SegmentWriter(catalog.SegmentsFolder);
        var assembler = new SpanAssembler(new AssemblerOptions(), budget);
        await using var sealer = new Sealer(assembler, budget, writer, catalog, () => { }, new SealerOptions(), NullLogger.Instance);
        assembler.Add(DecodedBatches.Decode(request), ExperimentId, walSequence: 1);
        sealer.SealNow(everything: true);
        assembler.Add(DecodedBatches.Decode(request), ExperimentId, walSequence: 2);
        sealer.SealNow(everything: true);

        Assert.Single(catalog.Segments());
        Assert.Equal(0, assembler.OpenTraces);
        Assert.Equal(0, budget.UsedBytes);
    }

    /// <summary>Seals each request as its own part, in order; returns the summary sealed last, the span rows stored
    /// for the trace and how many distinct span ids they hold.</summary>
    private static (TraceSummary Summary, long StoredRows, long DistinctSpans) SealInParts(IReadOnlyList<byte[]> parts)
    {
        using var folder = new TempDirectory("parts");
        var budget = new MemoryBudget(64L << 20);
        using var catalog = SegmentCatalog.Open(folder.Path);
        using var writer = new SegmentWriter(catalog.SegmentsFolder);
        var assembler = new SpanAssembler(new AssemblerOptions(), budget);
        var sealer = new Sealer(assembler, budget, writer, catalog, () => { }, new SealerOptions(), NullLogger.Instance);
        using var stop = new SealerDisposal(sealer);
        for (var i = 0; i < parts.Count; i++)
        {
            assembler.Add(DecodedBatches.Decode(parts[i]), ExperimentId, walSequence: i + 1);
            sealer.SealNow(everything: true);
        }

        Assert.Equal(0, budget.UsedBytes);
        var holding = catalog.SegmentsHolding(TraceId);
        using var database = DuckDbDatabase.OpenInMemory();
        using var connection = database.Connect();
        var summary = SegmentSummaryReader.Read(connection, holding[^1], TraceId)!;
        var files = string.Join(", ", holding.Select(s => DuckDbSql.Literal(Path.Combine(s.Folder, SegmentFormat.SpansFile))));
        using var counts = connection.Query($"SELECT count(*), count(DISTINCT span_id) FROM read_parquet([{files}])");
        var row = counts.ReadAllRows()[0];
        return (summary, (long)row[0]!, (long)row[1]!);
    }

    private static void AssertSameSummary(TraceSummary expected, TraceSummary actual)
    {
        Assert.Equal(expected.RequestTimeMs, actual.RequestTimeMs);
        Assert.Equal(expected.ExecutionDurationMs, actual.ExecutionDurationMs);
        Assert.Equal(expected.State, actual.State);
        Assert.Equal(expected.RequestPreview, actual.RequestPreview);
        Assert.Equal(expected.ResponsePreview, actual.ResponsePreview);
        Assert.Equal(expected.TraceName, actual.TraceName);
        Assert.Equal(expected.SessionId, actual.SessionId);
        Assert.Equal(expected.UserId, actual.UserId);
        Assert.Equal(expected.TokenUsage, actual.TokenUsage);
        Assert.Equal(expected.SpanCount, actual.SpanCount);
        Assert.Equal(expected.ErrorSpanCount, actual.ErrorSpanCount);
        Assert.Equal(expected.ServiceNames, actual.ServiceNames);
        Assert.Equal(expected.Models, actual.Models);
        Assert.Equal(expected.SpanTypes, actual.SpanTypes);
        Assert.Equal(expected.Metadata.OrderBy(e => e.Key, StringComparer.Ordinal), actual.Metadata.OrderBy(e => e.Key, StringComparer.Ordinal));
        Assert.Equal(expected.Tags.OrderBy(e => e.Key, StringComparer.Ordinal), actual.Tags.OrderBy(e => e.Key, StringComparer.Ordinal));
    }

    /// <summary>A random trace (random tree with missing parents, sometimes no root, unfinished spans, statuses,
    /// usage, session/user, models, span types, payloads of up to 1,200 characters) in random arrival order, with
    /// retried spans, cut into 1 to 5 requests.</summary>
    private static List<byte[]> RandomParts(Random random)
    {
        var count = random.Next(2, 30);
        var spans = new List<(string Service, OtlpSpan Span)>();
        for (var id = 1UL; id <= (ulong)count; id++)
        {
            var parent = id == 1 ? (random.Next(5) == 0 ? 999UL : 0UL) : random.Next(4) == 0 ? 500 + id : (ulong)random.Next(1, (int)id);
            var start = T0 + ((ulong)random.Next(0, 5_000) * Ms) + (ulong)random.Next(0, 1_000_000);
            var end = random.Next(6) == 0 ? 0 : start + ((ulong)random.Next(0, 3_000) * Ms) + (ulong)random.Next(0, 1_000_000);
            var status = (OtlpStatusCode)random.Next(3);
            var span = Span(id, parent, new string('n', random.Next(1, 30)), start, end, status, [.. RandomAttributes(random)]);
            spans.Add((((char)('a' + random.Next(3))).ToString(), span));
        }

        var arrival = spans.OrderBy(_ => random.Next()).ToList();
        for (var retries = random.Next(0, 4); retries > 0; retries--)
        {
            arrival.Insert(random.Next(arrival.Count + 1), arrival[random.Next(arrival.Count)]);
        }

        var cuts = Enumerable.Range(0, random.Next(0, 5)).Select(_ => random.Next(1, arrival.Count)).Append(0).Append(arrival.Count).Distinct().Order().ToList();
        var parts = new List<byte[]>();
        for (var i = 0; i + 1 < cuts.Count; i++)
        {
            var part = arrival.Skip(cuts[i]).Take(cuts[i + 1] - cuts[i]);
            parts.Add(Request([.. part.GroupBy(s => s.Service).Select(g => (g.Key, g.Select(s => s.Span).ToArray()))]));
        }

        return parts;
    }

    private static IEnumerable<(string Key, object Value)> RandomAttributes(Random random)
    {
        if (random.Next(3) == 0)
        {
            var cache = random.Next(2) == 0 ? "" : $", \"cache_read_input_tokens\": {random.Next(50)}";
            var input = random.Next(1, 500);
            var output = random.Next(1, 500);
            yield return ("mlflow.chat.tokenUsage", $"{{\"input_tokens\": {input}, \"output_tokens\": {output}, \"total_tokens\": {input + output}{cache}}}");
        }

        if (random.Next(5) == 0)
        {
            yield return ("session.id", $"s-{random.Next(3)}");
        }

        if (random.Next(5) == 0)
        {
            yield return ("user.id", $"u-{random.Next(3)}");
        }

        if (random.Next(4) == 0)
        {
            yield return ("gen_ai.operation.name", "chat");
            yield return ("gen_ai.request.model", $"model-{random.Next(3)}");
        }

        if (random.Next(4) == 0)
        {
            yield return ("mlflow.spanType", random.Next(2) == 0 ? "\"TOOL\"" : "\"AGENT\"");
        }

        if (random.Next(3) == 0)
        {
            yield return ("mlflow.spanInputs", $"\"{new string('i', random.Next(0, 1_200))}\"");
        }

        if (random.Next(3) == 0)
        {
            yield return ("mlflow.spanOutputs", $"\"{new string('o', random.Next(0, 1_200))}\"");
        }

        yield return ("pad", new string('p', random.Next(0, 200)));
    }

    /// <summary>Disposes a sealer whose loop never started (its disposal completes synchronously).</summary>
    private sealed class SealerDisposal(Sealer sealer) : IDisposable
    {
        public void Dispose() => sealer.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
