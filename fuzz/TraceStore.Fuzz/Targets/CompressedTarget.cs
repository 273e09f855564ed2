using System.Buffers;
using System.IO.Compression;
using Google.Protobuf;
using TraceStore.Protocol.Content;
using TraceStore.Protocol.Model;
using TraceStore.Protocol.Otlp;

namespace TraceStore.Fuzz.Targets;

/// <summary>Bounded decompression (gzip, zlib and raw deflate) followed by protobuf decoding.</summary>
public sealed class CompressedTarget : IFuzzTarget
{
    private readonly SpanBatch _batch = new();
    private readonly OtlpRequestDecoder _decoder = new(new OtlpDecoderOptions { MaxMessageBytes = 1L << 20, MaxAttributeDepth = 8, MaxSpansPerRequest = 10_000 });

    public string Name => "compressed";

    public Type ExpectedError => typeof(OtlpDecodeException);

    public IReadOnlyList<byte[]> Seeds(Random random)
    {
        var plain = SeedMessages.Generated(random, 8).Select(r => r.ToByteArray()).Concat(SeedMessages.Captured("protobuf").Take(2)).ToList();
        var seeds = new List<byte[]>();
        foreach (var body in plain)
        {
            seeds.Add(Compress(body, s => new GZipStream(s, CompressionLevel.Fastest, leaveOpen: true)));
            seeds.Add(Compress(body, s => new ZLibStream(s, CompressionLevel.Fastest, leaveOpen: true)));
            seeds.Add(Compress(body, s => new DeflateStream(s, CompressionLevel.Fastest, leaveOpen: true)));
        }

        return seeds;
    }

    public void Run(byte[] input, int split)
    {
        var encoding = input.Length > 1 && input[0] == 0x1F && input[1] == 0x8B ? OtlpContentEncoding.Gzip : OtlpContentEncoding.Deflate;
        _decoder.Decode(TwoSegments.Of(input, input.Length == 0 ? 0 : split % (input.Length + 1)), OtlpPayloadFormat.Protobuf, encoding, _batch);
    }

    private static byte[] Compress(byte[] body, Func<Stream, Stream> open)
    {
        using var output = new MemoryStream();
        using (var stream = open(output))
        {
            stream.Write(body);
        }

        return output.ToArray();
    }
}

/// <summary>Builds a two-segment sequence so every target also exercises its segment-straddling path.</summary>
internal static class TwoSegments
{
    public static ReadOnlySequence<byte> Of(byte[] input, int cut) =>
        cut <= 0 || cut >= input.Length
            ? new ReadOnlySequence<byte>(input)
            : MemorySequence.Create([input.AsMemory(0, cut), input.AsMemory(cut)]);
}
