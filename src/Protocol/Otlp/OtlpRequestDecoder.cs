using System.Buffers;
using TraceStore.Protocol.Content;
using TraceStore.Protocol.Model;
using TraceStore.Protocol.Otlp.Json;
using TraceStore.Protocol.Otlp.Protobuf;

namespace TraceStore.Protocol.Otlp;

/// <summary>
/// One entry point for a complete OTLP/HTTP request body: decompress (bounded), then decode protobuf or JSON into
/// a batch. Reusable and not thread-safe: one instance per concurrent request.
/// </summary>
public sealed class OtlpRequestDecoder(OtlpDecoderOptions? options = null) : IDisposable
{
    private readonly OtlpDecoderOptions _options = (options ?? OtlpDecoderOptions.Default).Validate();
    private readonly OtlpProtobufDecoder _protobuf = new(options);
    private readonly OtlpJsonDecoder _json = new(options);

    public OtlpDecoderOptions Options => _options;

    /// <summary>Decodes <paramref name="body"/> into <paramref name="batch"/> (reset first). Throws
    /// <see cref="OtlpDecodeException"/> for a body that must be refused.</summary>
    public void Decode(ReadOnlySequence<byte> body, OtlpPayloadFormat format, OtlpContentEncoding encoding, SpanBatch batch)
    {
        if (encoding == OtlpContentEncoding.Identity)
        {
            DecodePlain(body, format, batch);
            return;
        }

        using var plain = BoundedDecompressor.Decompress(body, encoding, _options.MaxMessageBytes);
        DecodePlain(plain.Data, format, batch);
    }

    public void Dispose() => _protobuf.Dispose();

    private void DecodePlain(ReadOnlySequence<byte> body, OtlpPayloadFormat format, SpanBatch batch)
    {
        if (format == OtlpPayloadFormat.Json)
        {
            _json.Decode(body, batch);
            return;
        }

        _protobuf.Begin(batch);
        _protobuf.Decode(ref body, isFinalBlock: true);
    }
}
