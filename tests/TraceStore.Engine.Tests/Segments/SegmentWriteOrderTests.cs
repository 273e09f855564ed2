using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;
using TraceStore.DuckDb;
using TraceStore.Engine.Admission;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Segments;
using TraceStore.OtlpOracle;
using TraceStore.Testing;

namespace TraceStore.Engine.Tests.Segments;

/// <summary>
/// The writer's work is split across threads (the attrs and traces orders are computed on the thread that writes that
/// file, while the spans file is written) and the attribute order compares 8-byte prefixes before bytes: whatever the
/// thread count or zstd level, the segment's rows are the same, in the order DuckDB itself sorts them.
/// </summary>
public sealed class SegmentWriteOrderTests : IDisposable
{
    private readonly TempDirectory _folder = new("write-order");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Attributes_that_tie_on_their_first_eight_bytes_are_ordered_as_DuckDB_orders_their_text()
    {
        var traces = Traces(TieRequest());
        using var writer = new SegmentWriter(Path.Combine(_folder.Path, "one"));
        var info = writer.Write(sealSequence: 1, traces);

        using var database = DuckDbDatabase.OpenInMemory();
        using var connection = database.Connect();
        var attrs = Literal(info, SegmentFormat.AttrsFile);
        var stored = Rows(connection, $"SELECT key, value, span_row FROM read_parquet({attrs})");
        var sorted = Rows(connection, $"SELECT key, value, span_row FROM read_parquet({attrs}) ORDER BY key, value, span_row");
        Assert.Equal(sorted.Select(Text), stored.Select(Text));

        // The values (stored as JSON text) that share long prefixes, are prefixes of each other, or differ after a zero
        // byte are all there, in byte order (which ordinal order of these strings is).
        var values = Rows(connection, $"SELECT value FROM read_parquet({attrs}) WHERE key = 'url.path'").Select(r => (string)r[0]!).ToList();
        Assert.Equal(TieValues.Length, values.Count);
        Assert.Equal(TieValues.Distinct().Count(), values.Distinct().Count());
        Assert.Equal(values.Order(StringComparer.Ordinal), values);
    }

    [Fact]
    public void A_segment_written_one_file_at_a_time_or_two_at_once_at_any_zstd_level_holds_the_same_rows_in_the_same_order()
    {
        var small = OtlpBenchmarkPayloads.Create(OtlpBenchmarkPayloads.Small, seed: 5, spansPerTrace: 10).ToByteArray();
        var genai = OtlpBenchmarkPayloads.Create(OtlpBenchmarkPayloads.GenAi, seed: 6, spansPerTrace: 5).ToByteArray();
        var traces = Traces(small, genai, TieRequest().ToByteArray());
        var options = new[]
        {
            new SegmentWriterOptions { Threads = 1, ZstdLevel = 1, TracesZstdLevel = 1, AttrsZstdLevel = 1, PayloadsZstdLevel = 1 },
            new SegmentWriterOptions { Threads = 2 },
            new SegmentWriterOptions { Threads = 4, ZstdLevel = 9, TracesZstdLevel = 9, AttrsZstdLevel = 9, PayloadsZstdLevel = 9, BloomFilters = false },
        };
        var written = new List<SegmentInfo>();
        for (var i = 0; i < options.Length; i++)
        {
            using var writer = new SegmentWriter(Path.Combine(_folder.Path, $"w{i}"), options[i]);
            written.Add(writer.Write(sealSequence: 3, traces));
        }

        using var database = DuckDbDatabase.OpenInMemory();
        using var connection = database.Connect();
        foreach (var file in new[] { SegmentFormat.SpansFile, SegmentFormat.PayloadsFile, SegmentFormat.AttrsFile, SegmentFormat.TracesFile })
        {
            var first = Rows(connection, $"SELECT * FROM read_parquet({Literal(written[0], file)})").Select(Text).ToList();
            Assert.NotEmpty(first);
            foreach (var other in written.Skip(1))
            {
                Assert.Equal(first, Rows(connection, $"SELECT * FROM read_parquet({Literal(other, file)})").Select(Text));
            }
        }

        Assert.All(written, w => Assert.Equal(written[0].Spans, w.Spans));
        Assert.All(written, w => Assert.Equal(written[0].MinTraceId, w.MinTraceId));
    }

    [Fact]
    public void The_attrs_and_traces_orders_are_not_read_before_they_are_computed()
    {
        var rows = new SegmentRows();
        rows.Reset(Traces(TieRequest()), summaries: null, sealSequence: 1);

        Assert.Throws<InvalidOperationException>(() => rows.AttributeCount);
        Assert.Throws<InvalidOperationException>(() => rows.TraceOrder.Length);
        rows.SortAttributes();
        rows.SortTraces();
        Assert.True(rows.AttributeCount > TieValues.Length);
        Assert.Equal(rows.Traces.Count, rows.TraceOrder.Length);

        // The next segment starts unsorted again.
        rows.Reset(Traces(TieRequest()), summaries: null, sealSequence: 2);
        Assert.Throws<InvalidOperationException>(() => rows.AttributeCount);
        rows.Clear();
    }

    /// <summary>url.path values that tie on their first 8 bytes (or all of them), are prefixes of each other, or differ
    /// only after a zero byte; keys that share their first 8 bytes.</summary>
    private static readonly string[] TieValues =
    [
        "/api/orders/2", "/api/orders/10", "/api/orders/1", "/api/ord", "/api/or", "/api/orders/1\0", "/api/orders/1\0a",
        "/api/ord\0", "", "z", "/api/orders/10", "/api/orders/éè", "/api/orders/~",
    ];

    private static ExportTraceServiceRequest TieRequest()
    {
        var scope = new ScopeSpans();
        for (var i = 0; i < TieValues.Length; i++)
        {
            var span = new Span
            {
                TraceId = ByteString.CopyFrom([.. Enumerable.Repeat((byte)(i % 3 + 1), 16)]),
                SpanId = ByteString.CopyFrom([.. Enumerable.Repeat((byte)(i + 1), 8)]),
                Name = "tie",
                StartTimeUnixNano = 1_763_700_000_000_000_000UL + (ulong)i,
                EndTimeUnixNano = 1_763_700_000_000_000_100UL + (ulong)i,
            };
            span.Attributes.Add(Attribute("url.path", TieValues[i]));
            span.Attributes.Add(Attribute("llm.token_count.prompt", $"{i}"));
            span.Attributes.Add(Attribute("llm.token_count.completion", $"{100 - i}"));
            span.Attributes.Add(Attribute("llm.token", TieValues[^(i + 1)]));
            scope.Spans.Add(span);
        }

        var resourceSpans = new ResourceSpans { Resource = new Resource() };
        resourceSpans.ScopeSpans.Add(scope);
        var request = new ExportTraceServiceRequest();
        request.ResourceSpans.Add(resourceSpans);
        return request;
    }

    private static KeyValue Attribute(string key, string value) => new() { Key = key, Value = new AnyValue { StringValue = value } };

    private static List<TraceBuffer> Traces(ExportTraceServiceRequest request) => Traces(request.ToByteArray());

    private static List<TraceBuffer> Traces(params byte[][] bodies)
    {
        var assembler = new SpanAssembler(new AssemblerOptions(), new MemoryBudget(1L << 30));
        var sequence = 0;
        foreach (var body in bodies)
        {
            assembler.Add(DecodedBatches.Decode(body), "0", walSequence: ++sequence);
        }

        return [.. assembler.TakeAll().Select(t => t.Buffer)];
    }

    private static string Text(object?[] row) => string.Join("\u0001", row.Select(v => v switch
    {
        null => "<null>",
        System.Collections.IEnumerable e and not string => string.Join("\u0002", e.Cast<object?>().Select(x => x?.ToString())),
        _ => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture),
    }));

    private static string Literal(SegmentInfo info, string name) => DuckDbSql.Literal(Path.Combine(info.Folder, name));

    private static List<object?[]> Rows(DuckDbConnection connection, string sql)
    {
        using var result = connection.Query(sql);
        return result.ReadAllRows();
    }
}
