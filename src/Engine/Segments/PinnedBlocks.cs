namespace TraceStore.Engine.Segments;

/// <summary>
/// A bump allocator over blocks on the pinned object heap: hands out byte ranges that never move, so DuckDB may read
/// them in place, until <see cref="Reset"/>, after which the same blocks are handed out again. A request larger than a
/// block gets a block of its own size. Not thread-safe.
/// </summary>
internal sealed class PinnedBlocks
{
    private const int BlockBytes = 256 << 10;
    private readonly List<byte[]> _blocks = [];
    private int _block;
    private int _used;

    /// <summary><paramref name="length"/> bytes of pinned memory (contents undefined), valid until <see cref="Reset"/>.</summary>
    public ArraySegment<byte> Allocate(int length)
    {
        if (_blocks.Count == 0 || _used + length > _blocks[_block].Length)
        {
            Next(length);
        }

        var range = new ArraySegment<byte>(_blocks[_block], _used, length);
        _used += length;
        return range;
    }

    /// <summary>Forgets every range handed out; the memory is used again.</summary>
    public void Reset()
    {
        _block = 0;
        _used = 0;
    }

    private void Next(int length)
    {
        // The next block that fits, else a new one.
        for (var next = _blocks.Count == 0 ? 0 : _block + 1; next < _blocks.Count; next++)
        {
            if (_blocks[next].Length >= length)
            {
                _block = next;
                _used = 0;
                return;
            }
        }

        _blocks.Add(GC.AllocateUninitializedArray<byte>(Math.Max(BlockBytes, length), pinned: true));
        _block = _blocks.Count - 1;
        _used = 0;
    }
}
