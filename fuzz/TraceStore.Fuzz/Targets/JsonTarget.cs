using System.Text;
using Google.Protobuf;
using TraceStore.Protocol.Model;
using TraceStore.Protocol.Otlp;
using TraceStore.Protocol.Otlp.Json;

namespace TraceStore.Fuzz.Targets;

/// <summary>The OTLP/JSON decoder over two segments.</summary>
public sealed class JsonTarget : IFuzzTarget
{
    private readonly SpanBatch _batch = new();
    private readonly OtlpJsonDecoder _decoder = new(new OtlpDecoderOptions { MaxMessageBytes = 1L << 20, MaxAttributeDepth = 8, MaxSpansPerRequest = 10_000 });

    public string Name => "json";

    public Type ExpectedError => typeof(OtlpDecodeException);

    public IReadOnlyList<byte[]> Seeds(Random random) =>
    [
        .. SeedMessages.Captured("json"),
        .. SeedMessages.Generated(random, 32).Select(r => Encoding.UTF8.GetBytes(JsonFormatter.Default.Format(r))),
        "{}"u8.ToArray(),
        """{"resource_spans":[{"scope_spans":[{"spans":[{"trace_id":"5B8EFFF798038103D269B633813FC60C","span_id":"eee19b7ec3c1b174","kind":"SPAN_KIND_SERVER","start_time_unix_nano":1,"attributes":[{"key":"a","value":{"double_value":"NaN"}}]}]}]}]}"""u8.ToArray(),
    ];

    public void Run(byte[] input, int split) =>
        _decoder.Decode(TwoSegments.Of(input, input.Length == 0 ? 0 : split % (input.Length + 1)), _batch);
}
