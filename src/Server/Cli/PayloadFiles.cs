using System.CommandLine;
using TraceStore.Protocol.Content;

namespace TraceStore.Server.Cli;

/// <summary>The <c>--content-type</c> and <c>--content-encoding</c> options of commands that read OTLP payload files,
/// and the defaults taken from the file when they are absent (".json" in the name; ".gz" or the gzip magic bytes).</summary>
internal static class PayloadFiles
{
    public static Option<string?> ContentTypeOption()
    {
        var option = new Option<string?>("--content-type") { Description = "protobuf or json (default: from the file name)." };
        option.AcceptOnlyFromAmong("protobuf", "json");
        return option;
    }

    public static Option<string?> ContentEncodingOption()
    {
        var option = new Option<string?>("--content-encoding") { Description = "gzip, deflate or identity (default: from the file)." };
        option.AcceptOnlyFromAmong("gzip", "deflate", "identity");
        return option;
    }

    public static (OtlpPayloadFormat Format, OtlpContentEncoding Encoding) Resolve(string fileName, ReadOnlySpan<byte> bytes, string? contentType, string? contentEncoding)
    {
        var encoding = contentEncoding is not null
            ? OtlpContentHeaders.ParseEncoding(contentEncoding)
            : fileName.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) || (bytes.Length > 2 && bytes[0] == 0x1F && bytes[1] == 0x8B)
                ? OtlpContentEncoding.Gzip
                : OtlpContentEncoding.Identity;
        var format = contentType is not null
            ? (contentType == "json" ? OtlpPayloadFormat.Json : OtlpPayloadFormat.Protobuf)
            : fileName.Contains(".json", StringComparison.OrdinalIgnoreCase) ? OtlpPayloadFormat.Json : OtlpPayloadFormat.Protobuf;
        return (format, encoding);
    }
}
