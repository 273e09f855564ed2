using System.Text;

namespace TraceStore.Protocol.Otlp.Json;

/// <summary>
/// Unescapes the raw bytes of a JSON string token (between the quotes) that <c>Utf8JsonReader</c> has already
/// checked: every backslash starts one of the escapes RFC 8259 allows, and <c>\u</c> has four hex digits.
/// <para>Why not <c>Utf8JsonReader.CopyString</c>: it validates the UTF-8 of its output with the BCL's validator,
/// which runs at about 1 GB/s on text that mixes ASCII and other characters (GenAI prompts and completions; see
/// <see cref="Model.Utf8Validation"/>), and the decoder validates the result anyway. Here the output is only
/// unescaped; the caller validates it once with the fast validator. That is equivalent to validating the raw
/// segments: an escape always produces a complete UTF-8 sequence, so it can neither complete nor be completed by
/// the raw bytes around it.</para>
/// </summary>
internal static class JsonStringUnescaper
{
    /// <summary>
    /// Writes the unescaped form of <paramref name="raw"/> to <paramref name="destination"/> (at least as long as
    /// <paramref name="raw"/>); returns the bytes written, or -1 for an escaped lone surrogate, which has no UTF-8 form
    /// (as <c>CopyString</c> refuses it).
    /// </summary>
    public static int Unescape(ReadOnlySpan<byte> raw, Span<byte> destination)
    {
        var written = 0;
        while (true)
        {
            var next = raw.IndexOf((byte)'\\');
            if (next < 0)
            {
                raw.CopyTo(destination[written..]);
                return written + raw.Length;
            }

            raw[..next].CopyTo(destination[written..]);
            written += next;
            var escape = raw[next + 1];
            raw = raw[(next + 2)..];
            if (escape != (byte)'u')
            {
                destination[written++] = escape switch
                {
                    (byte)'b' => (byte)'\b',
                    (byte)'f' => (byte)'\f',
                    (byte)'n' => (byte)'\n',
                    (byte)'r' => (byte)'\r',
                    (byte)'t' => (byte)'\t',
                    _ => escape, // '"', '\\' and '/' stand for themselves
                };
                continue;
            }

            int codePoint = Hex4(raw);
            raw = raw[4..];
            if (char.IsLowSurrogate((char)codePoint))
            {
                return -1;
            }

            if (char.IsHighSurrogate((char)codePoint))
            {
                if (raw.Length < 6 || raw[0] != (byte)'\\' || raw[1] != (byte)'u' || !char.IsLowSurrogate((char)Hex4(raw[2..])))
                {
                    return -1;
                }

                codePoint = char.ConvertToUtf32((char)codePoint, (char)Hex4(raw[2..]));
                raw = raw[6..];
            }

            written += new Rune(codePoint).EncodeToUtf8(destination[written..]);
        }
    }

    /// <summary>Four hex digits (the reader has checked they are hex).</summary>
    private static int Hex4(ReadOnlySpan<byte> hex) =>
        (HexDigit(hex[0]) << 12) | (HexDigit(hex[1]) << 8) | (HexDigit(hex[2]) << 4) | HexDigit(hex[3]);

    private static int HexDigit(byte c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
