using System.Buffers;
using System.Text.Json;
using TraceStore.Engine.Admission;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Segments;
using TraceStore.OtlpOracle;
using TraceStore.Protocol.Content;
using TraceStore.Protocol.Model;
using TraceStore.Protocol.Otlp;
using TraceStore.Query.Traces;
using TraceStore.Testing;

namespace TraceStore.Query.Tests.Traces;

public sealed class TraceReaderTests : IDisposable
{
    private readonly TempDirectory _folder = new("trace-reader");
    private readonly SegmentCatalog _catalog;
    private readonly SegmentWriter _writer;
    private readonly SpanAssembler _assembler = new(new AssemblerOptions(), new MemoryBudget(256L << 20));
    private long _seal;

    public TraceReaderTests()
    {
        _catalog = SegmentCatalog.Open(_folder.Path);
        _writer = new SegmentWriter(_catalog.SegmentsFolder);
    }

    public void Dispose()
    {
        _writer.Dispose();
        _catalog.Dispose();
        _folder.Dispose();
    }

    [Fact]
    public void Every_captured_trace_reads_back_with_its_spans_and_summary()
    {
        foreach (var file in TestPayloads.All.Where(f => f.SpanCount > 0))
        {
            _assembler.Add(Decode(file), "0", walSequence: 1);
        }

        Seal();
        using var reader = new TraceReader(_catalog);
        foreach (var file in TestPayloads.All.Where(f => f.SpanCount > 0 && f.ContentEncoding is null))
        {
            foreach (var (traceHex, count) in file.SpansPerTrace)
            {
                var trace = reader.Get("tr-" + traceHex);
                Assert.NotNull(trace);
                Assert.Equal("tr-" + traceHex, trace.Summary.TraceId);
                Assert.True(trace.Spans.Count >= count, $"{traceHex}: {trace.Spans.Count} spans, the file alone has {count}");
                Assert.Equal(trace.Spans.Count, trace.Summary.SpanCount);
            }
        }
    }

    [Fact]
    public void Get_trace_json_is_mlflow_shaped_with_typed_attributes_and_base64_ids()
    {
        var file = TestPayloads.Get("j01_openai-rag_proto_001.pb");
        _assembler.Add(Decode(file), "0", walSequence: 1);
        Seal();
        var (traceHex, count) = file.SpansPerTrace.First();

        using var reader = new TraceReader(_catalog);
        using var json = JsonDocument.Parse(GetTraceJson.ToJson(reader.Get("tr-" + traceHex)!));

        var trace = json.RootElement.GetProperty("trace");
        Assert.Equal("tr-" + traceHex, trace.GetProperty("trace_info").GetProperty("trace_id").GetString());
        var spans = trace.GetProperty("spans").EnumerateArray().ToList();
        Assert.Equal(count, spans.Count);
        Assert.All(spans, s => Assert.Equal(traceHex, Convert.ToHexStringLower(Convert.FromBase64String(s.GetProperty("trace_id").GetString()!))));
        Assert.All(spans, s => Assert.Equal(8, Convert.FromBase64String(s.GetProperty("span_id").GetString()!).Length));
        Assert.Single(spans, s => !s.TryGetProperty("parent_span_id", out _));

        // The OpenInference kind comes back as a typed string, and the payload attribute is given back to its span.
        var attributes = spans.SelectMany(s => s.GetProperty("attributes").EnumerateArray()).ToList();
        Assert.Contains(attributes, a => a.GetProperty("key").GetString() == "openinference.span.kind" && a.GetProperty("value").GetProperty("string_value").GetString() is "LLM" or "CHAIN" or "AGENT" or "TOOL" or "RETRIEVER");
        Assert.Contains(attributes, a => a.GetProperty("key").GetString() == "input.value");
        Assert.Contains(attributes, a => a.GetProperty("value").TryGetProperty("int_value", out _));
    }

    [Fact]
    public void Trace_sealed_in_two_parts_reads_back_once_with_every_span_and_the_later_summary()
    {
        var body = OtlpTestRequests.Protobuf(6, spansPerTrace: 6, seed: 3);
        var batch = DecodeProtobuf(body);
        var traceHex = batch.Spans[0].TraceId.ToHex();
        var first = new SpanBatch();
        var all = batch;

        // Part one: the first three spans. Part two: all six again (three are retries).
        _assembler.Add(Take(body, 3, first), "0", walSequence: 1);
        Seal();
        _assembler.Add(all, "0", walSequence: 2);
        Seal();

        using var reader = new TraceReader(_catalog);
        var trace = reader.Get("tr-" + traceHex)!;
        Assert.Equal(6, trace.Spans.Count);
        Assert.Equal(6, trace.Spans.Select(s => s.SpanId).Distinct().Count());
        Assert.Equal(6, trace.Summary.SpanCount);
        Assert.Equal(2, _catalog.Candidates(traceId: "tr-" + traceHex).Count);
        Assert.Equal([1L, 2L], _catalog.SegmentsHolding("tr-" + traceHex).Select(s => s.SealSequence));
    }

    [Fact]
    public void Trace_index_names_only_the_segments_that_hold_a_trace_even_when_zone_maps_overlap()
    {
        // Three segments of random ids: their trace-id ranges overlap, so zone maps cannot tell them apart.
        var ids = new List<string>();
        for (var seed = 1; seed <= 3; seed++)
        {
            var batch = DecodeProtobuf(OtlpTestRequests.Protobuf(40, spansPerTrace: 4, seed: seed));
            ids.Add("tr-" + batch.Spans[0].TraceId.ToHex());
            _assembler.Add(batch, "0", walSequence: seed);
            Seal();
        }

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal([(long)i + 1], _catalog.SegmentsHolding(ids[i]).Select(s => s.SealSequence));
        }

        Assert.Empty(_catalog.SegmentsHolding("tr-00000000000000000000000000000001"));
        Assert.True(_catalog.Candidates(traceId: ids[1]).Count > 1, "the zone maps were expected to overlap");
    }

    [Theory]
    [InlineData("tr-00000000000000000000000000000001")]
    [InlineData("tr-not-hex")]
    [InlineData("' OR 1=1 --")]
    [InlineData("")]
    public void Unknown_or_malformed_trace_id_is_not_found(string traceId)
    {
        _assembler.Add(Decode(TestPayloads.All[0]), "0", walSequence: 1);
        Seal();
        using var reader = new TraceReader(_catalog);
        Assert.Null(reader.Get(traceId));
    }

    private void Seal()
    {
        var traces = _assembler.TakeAll();
        _catalog.Commit(_writer.Write(++_seal, [.. traces.Select(t => t.Buffer)]));
    }

    private static SpanBatch Decode(PayloadFile file) => DecodedBatches.Decode(file);

    private static SpanBatch DecodeProtobuf(byte[] body) => DecodedBatches.Decode(body);

    /// <summary>The first <paramref name="count"/> spans of the request, as a batch of their own.</summary>
    private static SpanBatch Take(byte[] body, int count, SpanBatch into)
    {
        var request = OpenTelemetry.Proto.Collector.Trace.V1.ExportTraceServiceRequest.Parser.ParseFrom(body);
        var spans = request.ResourceSpans[0].ScopeSpans[0].Spans;
        while (spans.Count > count)
        {
            spans.RemoveAt(spans.Count - 1);
        }

        using var decoder = new OtlpRequestDecoder();
        decoder.Decode(new ReadOnlySequence<byte>(Google.Protobuf.MessageExtensions.ToByteArray(request)), OtlpPayloadFormat.Protobuf, OtlpContentEncoding.Identity, into);
        return into;
    }
}
