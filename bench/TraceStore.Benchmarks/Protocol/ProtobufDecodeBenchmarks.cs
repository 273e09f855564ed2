using System.Buffers;
using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using TraceStore.Benchmarks.Infrastructure;
using TraceStore.OtlpOracle;
using TraceStore.Protocol.Model;
using TraceStore.Protocol.Otlp.Protobuf;

namespace TraceStore.Benchmarks.Protocol;

/// <summary>
/// Decoding the same ~1 MB OTLP/protobuf export request with Google.Protobuf's generated parser and with TraceStore's
/// decoder (into a reused batch; from one segment, and from 16 KiB segments as a PipeReader delivers them).
/// Rows/s is spans per second.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(MicroConfig))]
public class ProtobufDecodeBenchmarks
{
    private readonly SpanBatch _batch = new();
    private readonly OtlpProtobufDecoder _decoder = new();
    private byte[] _bytes = [];
    private ReadOnlySequence<byte> _segmented;

    [Params(OtlpBenchmarkPayloads.Small, OtlpBenchmarkPayloads.GenAi)]
    public string Payload { get; set; } = OtlpBenchmarkPayloads.Small;

    [GlobalSetup]
    public void Setup()
    {
        var request = OtlpBenchmarkPayloads.Create(Payload);
        _bytes = request.ToByteArray();
        _segmented = Segments.Of(_bytes, 16 * 1024);
        var spans = request.ResourceSpans.Sum(r => r.ScopeSpans.Sum(s => s.Spans.Count));
        foreach (var method in new[] { nameof(GoogleProtobufParse), nameof(TraceStoreDecode), nameof(TraceStoreDecodeSegmented) })
        {
            ThroughputColumn.Record(method, spans, _bytes.Length, Payload);
        }
    }

    [Benchmark(Baseline = true)]
    public ExportTraceServiceRequest GoogleProtobufParse() => ExportTraceServiceRequest.Parser.ParseFrom(_bytes);

    [Benchmark]
    public int TraceStoreDecode()
    {
        var buffer = new ReadOnlySequence<byte>(_bytes);
        _decoder.Begin(_batch);
        _decoder.Decode(ref buffer, isFinalBlock: true);
        return _batch.Spans.Count;
    }

    [Benchmark]
    public int TraceStoreDecodeSegmented()
    {
        var buffer = _segmented;
        _decoder.Begin(_batch);
        _decoder.Decode(ref buffer, isFinalBlock: true);
        return _batch.Spans.Count;
    }
}
