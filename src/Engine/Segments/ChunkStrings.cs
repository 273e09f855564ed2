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
    private const int Inline = 12;
    private readonly PinnedBlocks _blocks = new();

    /// <summary>Forgets the strings of the previous chunk; the memory is used again.</summary>
    public void Reset() => _blocks.Reset();

    /// <summary>A stable copy of <paramref name="bytes"/> (strings of up to 12 bytes are stored inline in the vector,
    /// so they are returned as they are).</summary>
    public ReadOnlySpan<byte> Copy(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length <= Inline)
        {
            return bytes;
        }

        var destination = _blocks.Allocate(bytes.Length).AsSpan();
        bytes.CopyTo(destination);
        return destination;
    }
}
