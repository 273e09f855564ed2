using TraceStore.Engine.Wal;
using TraceStore.Protocol.Content;

namespace TraceStore.Engine.Ingest;

/// <summary>One OTLP export request body as received: its bytes, format (from Content-Type) and content encoding.</summary>
public readonly record struct OtlpPayload(ReadOnlyMemory<byte> Body, OtlpPayloadFormat Format, OtlpContentEncoding Encoding = OtlpContentEncoding.Identity)
{
    internal WalPayloadFormat WalFormat => Format == OtlpPayloadFormat.Json ? WalPayloadFormat.Json : WalPayloadFormat.Protobuf;

    internal WalPayloadEncoding WalEncoding => Encoding switch
    {
        OtlpContentEncoding.Gzip => WalPayloadEncoding.Gzip,
        OtlpContentEncoding.Deflate => WalPayloadEncoding.Deflate,
        _ => WalPayloadEncoding.Identity,
    };

    internal static OtlpPayload FromWal(WalEntry entry) => new(
        entry.Payload,
        entry.Format == WalPayloadFormat.Json ? OtlpPayloadFormat.Json : OtlpPayloadFormat.Protobuf,
        entry.Encoding switch
        {
            WalPayloadEncoding.Gzip => OtlpContentEncoding.Gzip,
            WalPayloadEncoding.Deflate => OtlpContentEncoding.Deflate,
            _ => OtlpContentEncoding.Identity,
        });
}
