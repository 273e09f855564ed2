using System.Buffers;
using TraceStore.Protocol.Content;
using TraceStore.Protocol.Model;
using TraceStore.Protocol.Otlp;

namespace TraceStore.Testing;

/// <summary>Request bodies decoded the real way (our decoder) into fresh batches, for tests above the protocol layer.</summary>
public static class DecodedBatches
{
    public static SpanBatch Decode(byte[] body, OtlpPayloadFormat format = OtlpPayloadFormat.Protobuf, OtlpContentEncoding encoding = OtlpContentEncoding.Identity)
    {
        var batch = new SpanBatch();
        using var decoder = new OtlpRequestDecoder();
        decoder.Decode(new ReadOnlySequence<byte>(body), format, encoding, batch);
        return batch;
    }

    /// <summary>A captured payload, with the format and encoding its manifest gives.</summary>
    public static SpanBatch Decode(PayloadFile file) =>
        Decode(file.RawBytes, file.Format == "json" ? OtlpPayloadFormat.Json : OtlpPayloadFormat.Protobuf, OtlpContentHeaders.ParseEncoding(file.ContentEncoding));
}
