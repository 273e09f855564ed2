using System.Text;

namespace TraceStore.Engine.Segments;

/// <summary>
/// UTF-8 copies of managed strings in pinned memory, so a segment file can hand them to DuckDB in place (no native
/// call or allocation inside DuckDB per string) for the time of one segment write. Chunks live on the pinned object
/// heap and are reused by the next segment after <see cref="Clear"/>. Not thread-safe.
/// </summary>
internal sealed class PinnedText
{
    private const int ChunkBytes = 256 << 10;
    private readonly List<byte[]> _chunks = [];
    private int _chunk;
    private int _used;

    /// <summary>The UTF-8 bytes of <paramref name="text"/>, valid (and unmoved) until <see cref="Clear"/>.</summary>
    public ArraySegment<byte> Utf8(string text)
    {
        var length = Encoding.UTF8.GetByteCount(text);
        if (_chunks.Count == 0 || _used + length > _chunks[_chunk].Length)
        {
            Next(length);
        }

        var destination = new ArraySegment<byte>(_chunks[_chunk], _used, length);
        Encoding.UTF8.GetBytes(text, destination);
        _used += length;
        return destination;
    }

    /// <summary>Forgets every string given out; the memory is used again.</summary>
    public void Clear()
    {
        _chunk = 0;
        _used = 0;
    }

    private void Next(int length)
    {
        // The next chunk that fits, else a new one (a string larger than a chunk gets one of its own size).
        for (var next = _chunks.Count == 0 ? 0 : _chunk + 1; next < _chunks.Count; next++)
        {
            if (_chunks[next].Length >= length)
            {
                _chunk = next;
                _used = 0;
                return;
            }
        }

        _chunks.Add(GC.AllocateUninitializedArray<byte>(Math.Max(ChunkBytes, length), pinned: true));
        _chunk = _chunks.Count - 1;
        _used = 0;
    }
}
