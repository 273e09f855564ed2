using System.Text;

namespace TraceStore.Engine.Segments;

/// <summary>
/// UTF-8 copies of managed strings in pinned memory, so a segment file can hand them to DuckDB in place (no native
/// call or allocation inside DuckDB per string) for the time of one segment write. Chunks live on the pinned object
/// heap and are reused by the next segment after <see cref="Clear"/>. Not thread-safe.
/// </summary>
internal sealed class PinnedText
{
    private readonly PinnedBlocks _blocks = new();

    /// <summary>The UTF-8 bytes of <paramref name="text"/>, valid (and unmoved) until <see cref="Clear"/>.</summary>
    public ArraySegment<byte> Utf8(string text)
    {
        var destination = _blocks.Allocate(Encoding.UTF8.GetByteCount(text));
        Encoding.UTF8.GetBytes(text, destination);
        return destination;
    }

    /// <summary>Forgets every string given out; the memory is used again.</summary>
    public void Clear() => _blocks.Reset();
}
