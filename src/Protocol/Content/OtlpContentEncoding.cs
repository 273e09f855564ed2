namespace TraceStore.Protocol.Content;

/// <summary>The <c>Content-Encoding</c> values OTLP/HTTP receivers accept (gzip is required; MLflow also takes deflate).</summary>
public enum OtlpContentEncoding
{
    Identity,
    Gzip,

    /// <summary>zlib-wrapped (RFC 1950) or raw (RFC 1951) deflate: both are sent as "deflate" in practice.</summary>
    Deflate,
}

/// <summary>The payload format, from <c>Content-Type</c>.</summary>
public enum OtlpPayloadFormat
{
    Protobuf,
    Json,
}

public static class OtlpContentHeaders
{
    /// <summary>Parses a Content-Encoding header (case-insensitive; absent or "identity" means none).</summary>
    public static OtlpContentEncoding ParseEncoding(string? value)
    {
        var token = value?.Trim();
        if (string.IsNullOrEmpty(token) || token.Equals("identity", StringComparison.OrdinalIgnoreCase) || token.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            return OtlpContentEncoding.Identity;
        }

        if (token.Equals("gzip", StringComparison.OrdinalIgnoreCase) || token.Equals("x-gzip", StringComparison.OrdinalIgnoreCase))
        {
            return OtlpContentEncoding.Gzip;
        }

        if (token.Equals("deflate", StringComparison.OrdinalIgnoreCase))
        {
            return OtlpContentEncoding.Deflate;
        }

        throw new ArgumentException($"Unsupported Content-Encoding: {value}. Supported: gzip, deflate, identity.", nameof(value));
    }

    /// <summary>Parses a Content-Type header: <c>application/x-protobuf</c> (or <c>application/protobuf</c>) or
    /// <c>application/json</c>; parameters such as <c>; charset=utf-8</c> are ignored.</summary>
    public static OtlpPayloadFormat ParseFormat(string? value)
    {
        var mediaType = value?.Split(';', 2)[0].Trim() ?? "";
        if (mediaType.Equals("application/x-protobuf", StringComparison.OrdinalIgnoreCase) || mediaType.Equals("application/protobuf", StringComparison.OrdinalIgnoreCase))
        {
            return OtlpPayloadFormat.Protobuf;
        }

        if (mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase))
        {
            return OtlpPayloadFormat.Json;
        }

        throw new ArgumentException($"Invalid Content-Type: {value}. Expected: application/x-protobuf or application/json", nameof(value));
    }
}
