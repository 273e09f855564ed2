using System.Buffers;
using Google.Protobuf;
using TraceStore.Protocol.Model;
using TraceStore.Protocol.Otlp;
using TraceStore.Protocol.Otlp.Protobuf;

namespace TraceStore.Fuzz.Targets;

/// <summary>The OTLP/protobuf decoder, whole-message over two segments, or incremental in two feeds.</summary>
public sealed class ProtobufTarget : IFuzzTarget
{
    private readonly SpanBatch _batch = new();
    private readonly OtlpProtobufDecoder _decoder = new(new OtlpDecoderOptions { MaxMessageBytes = 1L << 20, MaxAttributeDepth = 8, MaxSpansPerRequest = 10_000 });

    public string Name => "protobuf";

    public Type ExpectedError => typeof(OtlpDecodeException);

    public IReadOnlyList<byte[]> Seeds(Random random) =>
        [.. SeedMessages.Captured("protobuf"), .. SeedMessages.Generated(random, 32).Select(r => r.ToByteArray()), [], [0x0A, 0x00]];

    public void Run(byte[] input, int split)
    {
        var cut = input.Length == 0 ? 0 : split % (input.Length + 1);
        _decoder.Begin(_batch);
        if (split % 2 == 0)
        {
            var whole = TwoSegments.Of(input, cut);
            _decoder.Decode(ref whole, isFinalBlock: true);
            return;
        }

        var head = new ReadOnlySequence<byte>(input, 0, cut);
        _decoder.Decode(ref head, isFinalBlock: false);
        var rest = new ReadOnlySequence<byte>(input, (int)_decoder.Consumed, input.Length - (int)_decoder.Consumed);
        _decoder.Decode(ref rest, isFinalBlock: true);
    }
}
