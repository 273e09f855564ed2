using System.Buffers;
using System.IO.Compression;
using TraceStore.Protocol.Content;
using TraceStore.Protocol.Model;
using TraceStore.Protocol.Otlp;
using TraceStore.Protocol.Tests.Support;
using TraceStore.Testing;

namespace TraceStore.Protocol.Tests;

public sealed class ContentEncodingTests
{
    public static TheoryData<string> GzipPayloads => new() { "j05_openai-rag_proto-gzip_001.pb.gz", "j06_mlflow-manual_json-gzip_001.json.gz", "j06_mlflow-manual_json-gzip_002.json.gz" };

    [Theory]
    [MemberData(nameof(GzipPayloads))]
    public void Captured_gzip_payload_decodes_to_the_manifest_counts(string name)
    {
        var file = TestPayloads.Get(name);
        var batch = new SpanBatch();
        using var decoder = new OtlpRequestDecoder();

        decoder.Decode(new ReadOnlySequence<byte>(file.RawBytes), file.Format == "json" ? OtlpPayloadFormat.Json : OtlpPayloadFormat.Protobuf, OtlpContentEncoding.Gzip, batch);

        Assert.Equal(file.SpanCount, batch.Spans.Count);
        Assert.Equal(file.SpansPerTrace, BatchSummary.SpansPerTrace(batch));
    }

    [Theory]
    [InlineData("zlib")]
    [InlineData("raw")]
    [InlineData("gzip")]
    public void Every_encoding_round_trips_a_body_across_segments(string kind)
    {
        var plain = TestPayloads.Get("j03_mlflow-manual_proto_002.pb").DecodedBytes();
        var compressed = Compress(plain, kind);

        using var body = BoundedDecompressor.Decompress(
            Sequences.Chunked(compressed, 1000),
            kind == "gzip" ? OtlpContentEncoding.Gzip : OtlpContentEncoding.Deflate,
            64L << 20);

        Assert.False(body.Data.IsSingleSegment);
        Assert.Equal(plain, body.Data.ToArray());
    }

    [Fact]
    public void Gzip_bomb_fails_at_the_limit_without_allocating_past_it()
    {
        var bomb = ZeroBomb(256L << 20);
        var before = GC.GetAllocatedBytesForCurrentThread();

        var error = Assert.Throws<OtlpDecodeException>(() => BoundedDecompressor.Decompress(new ReadOnlySequence<byte>(bomb), OtlpContentEncoding.Gzip, 1L << 20));

        Assert.Equal(OtlpRejectReason.MessageTooLarge, error.Reason);
        Assert.Equal("the gzip body decompresses to more than the 1048576-byte limit", error.Detail);
        Assert.True(bomb.Length < 512 * 1024, $"bomb is {bomb.Length} bytes");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 8L << 20, "decompression allocated far past the 1 MiB limit");
    }

    [Fact]
    public void Corrupt_gzip_is_rejected_with_a_compression_error()
    {
        var gzip = Compress(new byte[10_000], "gzip");
        gzip[12] ^= 0xFF;
        gzip[13] ^= 0xFF;

        var error = Assert.Throws<OtlpDecodeException>(() => BoundedDecompressor.Decompress(new ReadOnlySequence<byte>(gzip), OtlpContentEncoding.Gzip, 1L << 20));

        Assert.Equal(OtlpRejectReason.InvalidCompression, error.Reason);
        Assert.StartsWith("Failed to decompress gzip payload", error.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Body_that_is_not_compressed_at_all_is_rejected()
    {
        var error = Assert.Throws<OtlpDecodeException>(() => BoundedDecompressor.Decompress(new ReadOnlySequence<byte>("plain text, not gzip"u8.ToArray()), OtlpContentEncoding.Gzip, 1L << 20));

        Assert.Equal(OtlpRejectReason.InvalidCompression, error.Reason);
    }

    [Fact]
    public void Truncated_gzip_of_a_protobuf_body_is_refused()
    {
        var plain = TestPayloads.Get("j01_openai-rag_proto_001.pb").DecodedBytes();
        var gzip = Compress(plain, "gzip");
        using var decoder = new OtlpRequestDecoder();

        var error = Assert.Throws<OtlpDecodeException>(() =>
            decoder.Decode(new ReadOnlySequence<byte>(gzip, 0, gzip.Length / 2), OtlpPayloadFormat.Protobuf, OtlpContentEncoding.Gzip, new SpanBatch()));

        Assert.True(error.Reason is OtlpRejectReason.InvalidCompression or OtlpRejectReason.Truncated or OtlpRejectReason.LengthOutOfRange, error.Message);
    }

    [Theory]
    [InlineData(null, OtlpContentEncoding.Identity)]
    [InlineData("", OtlpContentEncoding.Identity)]
    [InlineData("identity", OtlpContentEncoding.Identity)]
    [InlineData("GZIP", OtlpContentEncoding.Gzip)]
    [InlineData(" deflate ", OtlpContentEncoding.Deflate)]
    public void Content_encoding_header_parses(string? header, OtlpContentEncoding expected) =>
        Assert.Equal(expected, OtlpContentHeaders.ParseEncoding(header));

    [Fact]
    public void Unsupported_content_encoding_and_type_say_what_is_accepted()
    {
        Assert.Equal("Unsupported Content-Encoding: br. Supported: gzip, deflate, identity. (Parameter 'value')", Assert.Throws<ArgumentException>(() => OtlpContentHeaders.ParseEncoding("br")).Message);
        Assert.Equal("Invalid Content-Type: text/plain. Expected: application/x-protobuf or application/json (Parameter 'value')", Assert.Throws<ArgumentException>(() => OtlpContentHeaders.ParseFormat("text/plain")).Message);
        Assert.Equal(OtlpPayloadFormat.Json, OtlpContentHeaders.ParseFormat("application/json; charset=utf-8"));
        Assert.Equal(OtlpPayloadFormat.Protobuf, OtlpContentHeaders.ParseFormat("application/x-protobuf"));
    }

    /// <summary>gzip of <paramref name="size"/> zero bytes, made without holding them (about 1000:1).</summary>
    private static byte[] ZeroBomb(long size)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            var zeros = new byte[64 * 1024];
            for (long written = 0; written < size; written += zeros.Length)
            {
                gzip.Write(zeros);
            }
        }

        return output.ToArray();
    }

    private static byte[] Compress(byte[] plain, string kind)
    {
        using var output = new MemoryStream();
        using (Stream stream = kind switch
        {
            "gzip" => new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true),
            "zlib" => new ZLibStream(output, CompressionLevel.Fastest, leaveOpen: true),
            _ => new DeflateStream(output, CompressionLevel.Fastest, leaveOpen: true),
        })
        {
            stream.Write(plain);
        }

        return output.ToArray();
    }
}
