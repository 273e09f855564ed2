using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using TraceStore.Benchmarks.Infrastructure;
using TraceStore.OtlpOracle;
using TraceStore.Protocol.Model;
using TraceStore.Protocol.Otlp.Json;

namespace TraceStore.Benchmarks.Protocol;

/// <summary>
/// Decoding the same OTLP/JSON export request with Google.Protobuf's <c>JsonParser</c> and with TraceStore's JSON
/// decoder. Both read the bytes Google's formatter wrote (ids in base64, which Google's parser requires and
/// TraceStore accepts); TraceStore also decodes the spec's hex-id form.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(MicroConfig))]
public class JsonDecodeBenchmarks
{
    private readonly SpanBatch _batch = new();
    private readonly OtlpJsonDecoder _decoder = new();
    private readonly JsonParser _google = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));
    private string _text = "";
    private byte[] _utf8 = [];
    private byte[] _hexUtf8 = [];

    [Params(OtlpBenchmarkPayloads.Small, OtlpBenchmarkPayloads.GenAi)]
    public string Payload { get; set; } = OtlpBenchmarkPayloads.Small;

    [GlobalSetup]
    public void Setup()
    {
        var request = OtlpBenchmarkPayloads.Create(Payload);
        _text = JsonFormatter.Default.Format(request);
        _utf8 = Encoding.UTF8.GetBytes(_text);
        _hexUtf8 = Encoding.UTF8.GetBytes(OtlpBenchmarkPayloads.Json(request));
        var spans = request.ResourceSpans.Sum(r => r.ScopeSpans.Sum(s => s.Spans.Count));
        ThroughputColumn.Record(nameof(GoogleJsonParse), spans, _utf8.Length, Payload);
        ThroughputColumn.Record(nameof(TraceStoreJsonDecode), spans, _utf8.Length, Payload);
        ThroughputColumn.Record(nameof(TraceStoreJsonDecodeHexIds), spans, _hexUtf8.Length, Payload);
    }

    /// <summary>Google's parser takes a string: the UTF-8 to UTF-16 transcoding is part of its cost, as it would be in a server.</summary>
    [Benchmark(Baseline = true)]
    public ExportTraceServiceRequest GoogleJsonParse() => _google.Parse<ExportTraceServiceRequest>(Encoding.UTF8.GetString(_utf8));

    [Benchmark]
    public int TraceStoreJsonDecode()
    {
        _decoder.Decode(new ReadOnlySequence<byte>(_utf8), _batch);
        return _batch.Spans.Count;
    }

    [Benchmark]
    public int TraceStoreJsonDecodeHexIds()
    {
        _decoder.Decode(new ReadOnlySequence<byte>(_hexUtf8), _batch);
        return _batch.Spans.Count;
    }
}
