using System.Runtime.CompilerServices;

namespace TraceStore.Protocol.Model;

/// <summary>
/// One growable byte buffer holding every string and bytes value of a batch, addressed by
/// <see cref="ArenaSlice"/>. Capacity is kept across <see cref="Clear"/>. It may also hold bytes no slice refers to
/// (a decoder may copy a run of input and slice two strings out of it), so read it only through slices.
/// <para>Locals are not zeroed on entry (<c>SkipLocalsInit</c>: see <see cref="Otlp.Protobuf.OtlpProtobufDecoder"/>).</para>
/// </summary>
[SkipLocalsInit]
public sealed class ByteArena
{
    private byte[] _bytes;

    public ByteArena(int initialCapacity = 4096) => _bytes = new byte[Math.Max(initialCapacity, 64)];

    /// <summary>An empty arena over <paramref name="bytes"/> (taken back with <see cref="TakeBytes"/> from an arena no
    /// one reads any more): its capacity is the array's length; what the array held is overwritten as bytes are
    /// appended.</summary>
    public ByteArena(byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        _bytes = bytes;
    }

    public int Length { get; private set; }

    /// <summary>Bytes allocated (at least <see cref="Length"/>): what the arena costs in memory.</summary>
    public int Capacity => _bytes.Length;

    public ArenaSlice Append(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return default;
        }

        if (Length + bytes.Length > _bytes.Length)
        {
            Array.Resize(ref _bytes, Math.Max(Length + bytes.Length, _bytes.Length * 2));
        }

        bytes.CopyTo(_bytes.AsSpan(Length));
        var slice = new ArenaSlice(Length, bytes.Length);
        Length += bytes.Length;
        return slice;
    }

    /// <summary>Room for at least <paramref name="sizeHint"/> bytes at the end; <see cref="Commit"/> what was written.</summary>
    public Span<byte> GetSpan(int sizeHint)
    {
        if (Length + sizeHint > _bytes.Length)
        {
            Array.Resize(ref _bytes, Math.Max(Length + sizeHint, _bytes.Length * 2));
        }

        return _bytes.AsSpan(Length, sizeHint);
    }

    /// <summary>Takes the first <paramref name="count"/> bytes written into <see cref="GetSpan"/>.</summary>
    public ArenaSlice Commit(int count)
    {
        if (count == 0)
        {
            return default;
        }

        var slice = new ArenaSlice(Length, count);
        Length += count;
        return slice;
    }

    public ReadOnlySpan<byte> this[ArenaSlice slice] => _bytes.AsSpan(slice.Offset, slice.Length);

    public void Truncate(int length)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)length, (uint)Length, nameof(length));
        Length = length;
    }

    public void Clear() => Length = 0;

    /// <summary>Hands the array over (to be reused by a new arena, <see cref="ByteArena(byte[])"/>) and leaves this arena
    /// empty with no capacity: a slice read from it afterwards fails instead of reading someone else's bytes.</summary>
    public byte[] TakeBytes()
    {
        var bytes = _bytes;
        _bytes = [];
        Length = 0;
        return bytes;
    }
}
