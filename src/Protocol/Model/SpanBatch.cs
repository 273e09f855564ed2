namespace TraceStore.Protocol.Model;

/// <summary>
/// The decoded form of one OTLP export request: flat record lists linked by index ranges, and one byte arena
/// for every string and bytes value (UTF-8, validated). Nothing is a <c>string</c> until someone asks, so a
/// reused batch decodes without allocating per span.
/// <para>Structure: <see cref="Resources"/>[r].Scopes → <see cref="Scopes"/>; Scopes[s].Spans → <see cref="Spans"/>;
/// each record's Attributes → <see cref="KeyValues"/>; a span's Events/Links → <see cref="Events"/>/<see cref="Links"/>;
/// array values → <see cref="ArrayValues"/>. Every range is contiguous.</para>
/// <para>Spans that failed per-span validation are not in the batch; <see cref="RejectedSpans"/> counts them and
/// <see cref="FirstRejection"/> says why the first one was refused (OTLP partial success).</para>
/// </summary>
public sealed class SpanBatch
{
    public RecordList<ResourceRecord> Resources { get; } = new(4);

    public RecordList<ScopeRecord> Scopes { get; } = new(4);

    public RecordList<SpanRecord> Spans { get; } = new(64);

    public RecordList<EventRecord> Events { get; } = new(16);

    public RecordList<LinkRecord> Links { get; } = new(4);

    public RecordList<KeyValueRecord> KeyValues { get; } = new(256);

    public RecordList<AnyValueRecord> ArrayValues { get; } = new(16);

    public ByteArena Arena { get; } = new(16 * 1024);

    /// <summary>Spans refused by per-span validation (bad ids, bad UTF-8, end before start, nesting too deep).</summary>
    public long RejectedSpans { get; private set; }

    /// <summary>The reason the first refused span was refused, with its field path.</summary>
    public string? FirstRejection { get; private set; }

    /// <summary>Bytes of the request this batch was decoded from (after decompression).</summary>
    public long MessageBytes { get; internal set; }

    /// <summary>Empties the batch, keeping every buffer's capacity.</summary>
    public void Reset()
    {
        Resources.Clear();
        Scopes.Clear();
        Spans.Clear();
        Events.Clear();
        Links.Clear();
        KeyValues.Clear();
        ArrayValues.Clear();
        Arena.Clear();
        RejectedSpans = 0;
        FirstRejection = null;
        MessageBytes = 0;
    }

    public ReadOnlySpan<byte> Bytes(ArenaSlice slice) => Arena[slice];

    /// <summary>Allocates a string: for output and tests, not for the ingest path.</summary>
    public string GetString(ArenaSlice slice) => slice.IsEmpty ? "" : System.Text.Encoding.UTF8.GetString(Arena[slice]);

    internal void Reject(string reason)
    {
        RejectedSpans++;
        FirstRejection ??= reason;
    }
}
