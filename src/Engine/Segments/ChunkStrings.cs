namespace TraceStore.Engine.Segments;

/// <summary>
/// Copies of the strings of one output chunk in pinned memory (blocks on the pinned object heap, reused chunk after
/// chunk), for DuckDB to read in place. Trace-buffer arenas are ordinary arrays the garbage collector moves, and
/// pinning thousands of them for a whole segment write fragmented the heap (a 1 GiB store under overload peaked at
/// 2.5 GB resident against 1.5-1.6 GB), so their bytes are copied here, one memcpy per string and no native call.
/// <para>Lifetime: valid until <see cref="Reset"/>, which the scan calls before it fills the next chunk. DuckDB's COPY
/// to Parquet buffers each chunk it receives in its own memory (a ColumnDataCollection, which copies strings) before
/// it asks for the next one, so nothing it keeps points here. Not thread-safe: one COPY of a file at a time.</para>
/// </summary>
internal sealed class ChunkStrings
{
    private const int BlockBytes = 256 << 10;
    private const int Inline = 12;
    private readonly List<byte[]> _blocks = [];
    private int _block;
    private int _used;

    /// <summary>Forgets the strings of the previous chunk; the memory is used again.</summary>
    public void Reset()
    {
        _block = 0;
        _used = 0;
    }

    /// <summary>A stable copy of <paramref name="bytes"/> (strings of up to 12 bytes are stored inline in the vector,
    /// so they are returned as they are).</summary>
    public ReadOnlySpan<byte> Copy(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length <= Inline)
        {
            return bytes;
        }

        if (_blocks.Count == 0 || _used + bytes.Length > _blocks[_block].Length)
        {
            Next(bytes.Length);
        }

        var destination = _blocks[_block].AsSpan(_used, bytes.Length);
        bytes.CopyTo(destination);
        _used += bytes.Length;
        return destination;
    }

    private void Next(int length)
    {
        // The next block that fits, else a new one (a string larger than a block gets one of its own size).
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
