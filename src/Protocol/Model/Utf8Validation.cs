using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Text.Unicode;

namespace TraceStore.Protocol.Model;

/// <summary>
/// UTF-8 validation for every string field the decoders accept. <see cref="Utf8.IsValid"/> runs at about 1 GB/s
/// on text that mixes ASCII and other characters every few words (its ASCII fast path keeps falling back), which
/// made validation 60 % of decoding GenAI spans. Inputs of 64 bytes and more use the "lookup" algorithm of
/// Keiser and Lemire (Validating UTF-8 In Less Than One Instruction Per Byte, 2021; simdutf): three 16-entry
/// nibble lookups classify every byte pair, plus a check that 3- and 4-byte sequences have their
/// continuation bytes; 32 bytes per step with AVX2. Shorter inputs, and machines without AVX2, use the BCL.
/// Equivalence with <see cref="Utf8.IsValid"/> is tested exhaustively over 1-4 byte sequences at block edges.
/// <para>Locals are not zeroed on entry (<c>SkipLocalsInit</c>: see <see cref="Otlp.Protobuf.OtlpProtobufDecoder"/>); the
/// one stackalloc, the AVX2 tail block, is cleared before use.</para>
/// </summary>
[SkipLocalsInit]
internal static class Utf8Validation
{
    private const int SimdThreshold = 64;

    // Error bits of the lookup tables (names as in simdutf).
    private const byte TooShort = 1 << 0;
    private const byte TooLong = 1 << 1;
    private const byte Overlong3 = 1 << 2;
    private const byte TooLarge = 1 << 3;
    private const byte Surrogate = 1 << 4;
    private const byte Overlong2 = 1 << 5;
    private const byte TooLarge1000 = 1 << 6;
    private const byte Overlong4 = 1 << 6;
    private const byte TwoConts = 1 << 7;
    private const byte Carry = TooShort | TooLong | TwoConts;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsValid(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < SimdThreshold)
        {
            // Keys and short values are nearly always ASCII: check 8 bytes at a time before calling out.
            return IsShortAscii(bytes) || Utf8.IsValid(bytes);
        }

        return Avx2.IsSupported ? IsValidAvx2(bytes) : Utf8.IsValid(bytes);
    }

    /// <summary>
    /// Copies <paramref name="source"/> (short: keys, names, attribute values) to the start of
    /// <paramref name="destination"/> and returns whether it was all ASCII, hence valid UTF-8, in one pass over the
    /// bytes instead of a check and a copy. Whole 16-, 8- or 4-byte loads; the last one overlaps the one before, so
    /// no byte outside either span is read or written. When false the destination holds a copy that must not be used.
    /// </summary>
    public static bool TryCopyAscii(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        var length = source.Length;
        if ((uint)destination.Length < (uint)length)
        {
            throw new ArgumentException("The destination is shorter than the source.", nameof(destination));
        }

        ref var from = ref MemoryMarshal.GetReference(source);
        ref var to = ref MemoryMarshal.GetReference(destination);
        if (length >= 16)
        {
            var high = Vector128<byte>.Zero;
            nuint i = 0;
            for (; i + 16 <= (nuint)length; i += 16)
            {
                var block = Vector128.LoadUnsafe(ref from, i);
                high |= block;
                block.StoreUnsafe(ref to, i);
            }

            if (i < (nuint)length)
            {
                var last = (nuint)length - 16;
                var block = Vector128.LoadUnsafe(ref from, last);
                high |= block;
                block.StoreUnsafe(ref to, last);
            }

            return high.ExtractMostSignificantBits() == 0;
        }

        if (length >= 8)
        {
            var first = Unsafe.ReadUnaligned<ulong>(ref from);
            var last = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref from, length - 8));
            Unsafe.WriteUnaligned(ref to, first);
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref to, length - 8), last);
            return ((first | last) & 0x8080808080808080UL) == 0;
        }

        if (length >= 4)
        {
            var first = Unsafe.ReadUnaligned<uint>(ref from);
            var last = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref from, length - 4));
            Unsafe.WriteUnaligned(ref to, first);
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref to, length - 4), last);
            return ((first | last) & 0x80808080U) == 0;
        }

        var any = 0;
        for (var i = 0; i < length; i++)
        {
            var b = source[i];
            any |= b;
            destination[i] = b;
        }

        return any < 0x80;
    }

    private static bool IsShortAscii(ReadOnlySpan<byte> bytes)
    {
        ulong high = 0;
        var i = 0;
        for (; i + 8 <= bytes.Length; i += 8)
        {
            high |= System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(bytes[i..]);
        }

        for (; i < bytes.Length; i++)
        {
            high |= bytes[i];
        }

        return (high & 0x8080808080808080UL) == 0;
    }

    private static bool IsValidAvx2(ReadOnlySpan<byte> bytes)
    {
        // Byte 1 high nibble: what the previous byte is (ASCII, continuation, 2/3/4-byte lead).
        var byte1High = Table(
            TooLong, TooLong, TooLong, TooLong, TooLong, TooLong, TooLong, TooLong,
            TwoConts, TwoConts, TwoConts, TwoConts,
            TooShort | Overlong2,
            TooShort,
            TooShort | Overlong3 | Surrogate,
            TooShort | TooLarge | TooLarge1000 | Overlong4);

        // Byte 1 low nibble: which leads are overlong, too large or surrogate prefixes.
        var byte1Low = Table(
            Carry | Overlong3 | Overlong2 | Overlong4,
            Carry | Overlong2,
            Carry,
            Carry,
            Carry | TooLarge,
            Carry | TooLarge | TooLarge1000,
            Carry | TooLarge | TooLarge1000,
            Carry | TooLarge | TooLarge1000,
            Carry | TooLarge | TooLarge1000,
            Carry | TooLarge | TooLarge1000,
            Carry | TooLarge | TooLarge1000,
            Carry | TooLarge | TooLarge1000,
            Carry | TooLarge | TooLarge1000,
            Carry | TooLarge | TooLarge1000 | Surrogate,
            Carry | TooLarge | TooLarge1000,
            Carry | TooLarge | TooLarge1000);

        // Byte 2 high nibble: what the current byte is.
        var byte2High = Table(
            TooShort, TooShort, TooShort, TooShort, TooShort, TooShort, TooShort, TooShort,
            TooLong | Overlong2 | TwoConts | Overlong3 | TooLarge1000 | Overlong4,
            TooLong | Overlong2 | TwoConts | Overlong3 | TooLarge,
            TooLong | Overlong2 | TwoConts | Surrogate | TooLarge,
            TooLong | Overlong2 | TwoConts | Surrogate | TooLarge,
            TooShort, TooShort, TooShort, TooShort);

        // A block ending in the first byte of a sequence longer than what is left is incomplete.
        var incompleteMax = Vector256.Create(
            (byte)255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
            255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0xF0 - 1, 0xE0 - 1, 0xC0 - 1);
        var lowNibble = Vector256.Create((byte)0x0F);

        var error = Vector256<byte>.Zero;
        var previous = Vector256<byte>.Zero;
        var previousIncomplete = Vector256<byte>.Zero;
        var offset = 0;
        Span<byte> tail = stackalloc byte[32];
        while (offset < bytes.Length)
        {
            Vector256<byte> input;
            if (bytes.Length - offset >= 32)
            {
                input = Vector256.Create(bytes.Slice(offset, 32));
            }
            else
            {
                // Zero padding is ASCII: a sequence cut short by the end is caught as TOO_SHORT on the padding.
                tail.Clear();
                bytes[offset..].CopyTo(tail);
                input = Vector256.Create((ReadOnlySpan<byte>)tail);
            }

            offset += 32;
            if (Avx2.MoveMask(input) == 0)
            {
                error |= previousIncomplete;
            }
            else
            {
                var shifted = Avx2.Permute2x128(previous, input, 0x21);
                var prev1 = Avx2.AlignRight(input, shifted, 15);
                var prev2 = Avx2.AlignRight(input, shifted, 14);
                var prev3 = Avx2.AlignRight(input, shifted, 13);

                var special =
                    Avx2.Shuffle(byte1High, Avx2.ShiftRightLogical(prev1.AsUInt16(), 4).AsByte() & lowNibble)
                    & Avx2.Shuffle(byte1Low, prev1 & lowNibble)
                    & Avx2.Shuffle(byte2High, Avx2.ShiftRightLogical(input.AsUInt16(), 4).AsByte() & lowNibble);

                // Bytes 2 after a 3-byte lead or 3 after a 4-byte lead must be continuations (bit 7 of the result).
                var isThird = Avx2.SubtractSaturate(prev2, Vector256.Create((byte)(0xE0 - 0x80)));
                var isFourth = Avx2.SubtractSaturate(prev3, Vector256.Create((byte)(0xF0 - 0x80)));
                var mustBeContinuation = (isThird | isFourth) & Vector256.Create((byte)0x80);
                error |= mustBeContinuation ^ special;
                previousIncomplete = Avx2.SubtractSaturate(input, incompleteMax);
            }

            previous = input;
        }

        error |= previousIncomplete;
        return error == Vector256<byte>.Zero;
    }

    /// <summary>A 16-entry table (entries are byte values) repeated in both 128-bit lanes, for <c>vpshufb</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Table(
        int b0, int b1, int b2, int b3, int b4, int b5, int b6, int b7,
        int b8, int b9, int b10, int b11, int b12, int b13, int b14, int b15)
    {
        var lane = Vector128.Create((byte)b0, (byte)b1, (byte)b2, (byte)b3, (byte)b4, (byte)b5, (byte)b6, (byte)b7, (byte)b8, (byte)b9, (byte)b10, (byte)b11, (byte)b12, (byte)b13, (byte)b14, (byte)b15);
        return Vector256.Create(lane, lane);
    }
}
