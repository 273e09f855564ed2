using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using TraceStore.Protocol.GenAi;
using TraceStore.Protocol.Model;

namespace TraceStore.Engine.Assembly;

/// <summary>
/// An attribute value as MLflow's store keeps it (mlflow-tracing.md a.2, c.2): <c>json.dumps(value)</c> of the decoded
/// AnyValue, except that a string which itself holds a JSON string, object or array is kept as it is
/// (<c>sanitize_attributes</c> strips that one level of encoding). Written as UTF-8 straight into an arena: strings,
/// integers and booleans without allocating; doubles, arrays and maps through <see cref="MlflowAttributeJson"/>.
/// </summary>
public static class MlflowStoredJson
{
    public static ArenaSlice Write(ByteArena destination, SpanBatch batch, in AnyValueRecord value)
    {
        switch (value.Kind)
        {
            case AnyValueKind.String:
                var text = batch.Bytes(value.Bytes);
                return HoldsJsonContainerOrString(text) ? destination.Append(text) : WriteString(destination, text);
            case AnyValueKind.Int:
                var span = destination.GetSpan(20);
                Utf8Formatter.TryFormat(value.IntValue, span, out var written);
                return destination.Commit(written);
            case AnyValueKind.Bool:
                return destination.Append(value.BoolValue ? "true"u8 : "false"u8);
            default:
                return destination.Append(Encoding.UTF8.GetBytes(MlflowAttributeJson.Encode(batch, value)));
        }
    }

    /// <summary>Python's <c>json.dumps</c> of a string with <c>ensure_ascii=False</c>: quotes, backslashes and control
    /// characters escaped, everything else (non-ASCII included) as it is.</summary>
    public static ArenaSlice WriteString(ByteArena destination, ReadOnlySpan<byte> utf8)
    {
        var span = destination.GetSpan((utf8.Length * 6) + 2);
        var at = 0;
        span[at++] = (byte)'"';
        foreach (var b in utf8)
        {
            switch (b)
            {
                case (byte)'"': span[at++] = (byte)'\\'; span[at++] = (byte)'"'; break;
                case (byte)'\\': span[at++] = (byte)'\\'; span[at++] = (byte)'\\'; break;
                case (byte)'\n': span[at++] = (byte)'\\'; span[at++] = (byte)'n'; break;
                case (byte)'\r': span[at++] = (byte)'\\'; span[at++] = (byte)'r'; break;
                case (byte)'\t': span[at++] = (byte)'\\'; span[at++] = (byte)'t'; break;
                case (byte)'\b': span[at++] = (byte)'\\'; span[at++] = (byte)'b'; break;
                case (byte)'\f': span[at++] = (byte)'\\'; span[at++] = (byte)'f'; break;
                case < 0x20:
                    "\\u00"u8.CopyTo(span[at..]);
                    at += 4;
                    span[at++] = HexDigit(b >> 4);
                    span[at++] = HexDigit(b & 0xF);
                    break;
                default: span[at++] = b; break;
            }
        }

        span[at++] = (byte)'"';
        return destination.Commit(at);
    }

    /// <summary>True when <paramref name="utf8"/> is one complete JSON string, object or array (surrounding whitespace
    /// allowed), i.e. when MLflow would store it without another level of encoding.</summary>
    public static bool HoldsJsonContainerOrString(ReadOnlySpan<byte> utf8)
    {
        var first = utf8.TrimStart(" \t\r\n"u8);
        if (first.IsEmpty || (first[0] != (byte)'"' && first[0] != (byte)'{' && first[0] != (byte)'['))
        {
            return false;
        }

        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = 256 });
        try
        {
            if (!reader.Read() || !reader.TrySkip())
            {
                return false;
            }

            return !reader.Read();
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static byte HexDigit(int nibble) => (byte)(nibble < 10 ? '0' + nibble : 'a' + nibble - 10);
}
