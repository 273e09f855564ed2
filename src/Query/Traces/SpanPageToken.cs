using System.Buffers.Binary;
using System.Globalization;

namespace TraceStore.Query.Traces;

/// <summary>
/// Where a page of a trace's spans ends: the last span's (start time, span id), the key spans are ordered by. The next
/// page starts strictly after it, so a page boundary between spans with equal start times splits them by span id, and
/// spans stored while paging are seen if they sort after the cursor.
/// </summary>
internal readonly record struct SpanCursor(long StartTimeNs, ulong SpanId)
{
    /// <summary>Before every span.</summary>
    public static SpanCursor Start => new(long.MinValue, 0);

    /// <summary>The 16-hex span id, as segments store it (ordinal order of the text is the numeric order).</summary>
    public string SpanIdHex => SpanId.ToString("x16", CultureInfo.InvariantCulture);

    public bool IsBefore(long startTimeNs, ulong spanId) => startTimeNs > StartTimeNs || (startTimeNs == StartTimeNs && spanId > SpanId);
}

/// <summary>
/// The opaque page token of paged span reads: version byte 1, start time (8 bytes, big-endian) and span id (8 bytes),
/// base64url without padding (22 characters + 1). Opaque to clients: they pass back what they were given.
/// </summary>
internal static class SpanPageToken
{
    private const byte Version = 1;
    private const int Length = 17;

    public static string Encode(SpanCursor cursor)
    {
        Span<byte> bytes = stackalloc byte[Length];
        bytes[0] = Version;
        BinaryPrimitives.WriteInt64BigEndian(bytes[1..], cursor.StartTimeNs);
        BinaryPrimitives.WriteUInt64BigEndian(bytes[9..], cursor.SpanId);
        return Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    /// <summary>The cursor of <paramref name="token"/>; <see cref="SpanCursor.Start"/> for null or empty (the first
    /// page). A token this build did not write is a <see cref="QueryErrorCode.InvalidParameterValue"/> error.</summary>
    public static SpanCursor Decode(string? token)
    {
        if (string.IsNullOrEmpty(token))
        {
            return SpanCursor.Start;
        }

        var base64 = token.Replace('-', '+').Replace('_', '/');
        base64 += new string('=', (4 - (base64.Length % 4)) % 4);
        Span<byte> bytes = stackalloc byte[Length + 3];
        if (token.Length > 32 || !Convert.TryFromBase64String(base64, bytes, out var written) || written != Length || bytes[0] != Version)
        {
            throw new TraceStoreQueryException(QueryErrorCode.InvalidParameterValue, "Invalid page_token: pass back a next_page_token from an earlier page of the same trace.");
        }

        return new SpanCursor(BinaryPrimitives.ReadInt64BigEndian(bytes[1..]), BinaryPrimitives.ReadUInt64BigEndian(bytes[9..]));
    }
}
