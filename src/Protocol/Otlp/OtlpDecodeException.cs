using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace TraceStore.Protocol.Otlp;

/// <summary>Why a request was refused as a whole (structural problems; per-span ones are partial success).</summary>
public enum OtlpRejectReason
{
    /// <summary>The message ends inside a field.</summary>
    Truncated,

    /// <summary>A protobuf tag with field number 0, wire type 6 or 7, or an unmatched group end.</summary>
    InvalidTag,

    /// <summary>A field's wire type is not the one its declaration needs.</summary>
    WrongWireType,

    /// <summary>A varint longer than 10 bytes or past 64 bits.</summary>
    VarintOverflow,

    /// <summary>A length prefix past the end of its enclosing message.</summary>
    LengthOutOfRange,

    /// <summary>A string field outside spans that is not UTF-8.</summary>
    InvalidUtf8,

    /// <summary>The message, once decompressed, is larger than the configured limit.</summary>
    MessageTooLarge,

    /// <summary>More spans than the configured limit.</summary>
    TooManySpans,

    /// <summary>Nesting (groups, JSON depth) past what the decoder allows.</summary>
    NestingTooDeep,

    /// <summary>OTLP/JSON that is not JSON, or JSON of the wrong shape for OTLP.</summary>
    InvalidJson,

    /// <summary>A value that cannot be what its field holds (bad hex id, bad number, unknown enum name).</summary>
    InvalidValue,

    /// <summary>A compressed body that does not decompress.</summary>
    InvalidCompression,
}

/// <summary>
/// A request OTLP clients must not retry (HTTP 400, gRPC INVALID_ARGUMENT): says what is wrong and where,
/// as a field path (<c>resource_spans[0].scope_spans[1].spans[7].attributes[2].value</c>) and the byte
/// offset in the decoded message.
/// </summary>
public sealed class OtlpDecodeException : Exception
{
    private readonly StringBuilder _path = new();

    public OtlpDecodeException()
    {
        Detail = "";
    }

    public OtlpDecodeException(string message)
        : base(message)
    {
        Detail = message;
    }

    public OtlpDecodeException(string message, Exception innerException)
        : base(message, innerException)
    {
        Detail = message;
    }

    public OtlpDecodeException(OtlpRejectReason reason, string detail, long offset, Exception? innerException = null)
        : base(detail, innerException)
    {
        Reason = reason;
        Detail = detail;
        Offset = offset;
    }

    public OtlpRejectReason Reason { get; }

    /// <summary>What is wrong, without the location.</summary>
    public string Detail { get; }

    /// <summary>Byte offset in the (decompressed) message, or in the JSON text, where the problem was found.</summary>
    public long Offset { get; }

    /// <summary>Where: proto field names with element indexes, outermost first; empty at the top level.</summary>
    public string FieldPath => _path.ToString();

    public override string Message =>
        FieldPath.Length == 0 ? $"{Detail} (at byte {Offset})" : $"{FieldPath}: {Detail} (at byte {Offset})";

    /// <summary>Adds an enclosing field to the path as the error travels outwards.</summary>
    internal OtlpDecodeException Within(string field, int index = -1)
    {
        var segment = index >= 0 ? $"{field}[{index}]" : field;
        _path.Insert(0, _path.Length == 0 ? segment : segment + ".");
        return this;
    }

    internal OtlpDecodeException WithinPath(string path)
    {
        if (path.Length > 0)
        {
            _path.Insert(0, _path.Length == 0 ? path : path + ".");
        }

        return this;
    }

    [DoesNotReturn]
    internal static void Throw(OtlpRejectReason reason, string detail, long offset) =>
        throw new OtlpDecodeException(reason, detail, offset);
}
