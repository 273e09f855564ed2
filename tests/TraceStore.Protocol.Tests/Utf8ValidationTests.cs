using System.Text;
using System.Text.Unicode;
using FsCheck;
using FsCheck.Fluent;
using TraceStore.Protocol.Model;

namespace TraceStore.Protocol.Tests;

/// <summary>The SIMD validator agrees with <see cref="Utf8.IsValid"/> on every 1-4 byte sequence placed across block edges.</summary>
public sealed class Utf8ValidationTests
{
    private static readonly byte[] Interesting = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF];

    // Offsets that put the sequence inside a block, across the 32-byte block edge, and at the very end.
    private static readonly int[] Offsets = [5, 29, 30, 31, 32, 60, 61, 62, 63];

    [Fact]
    public void Every_two_byte_sequence_at_every_edge_agrees_with_the_bcl()
    {
        var buffer = new byte[64];
        for (var b0 = 0; b0 < 256; b0++)
        {
            for (var b1 = 0; b1 < 256; b1++)
            {
                foreach (var offset in Offsets)
                {
                    Check(buffer, offset, (byte)b0, (byte)b1);
                }
            }
        }
    }

    [Fact]
    public void Every_three_and_four_byte_lead_with_interesting_continuations_agrees_with_the_bcl()
    {
        var buffer = new byte[64];
        for (var b0 = 0xC0; b0 < 256; b0++)
        {
            for (var b1 = 0; b1 < 256; b1++)
            {
                foreach (var b2 in Interesting)
                {
                    Check(buffer, 30, (byte)b0, (byte)b1, b2);
                    if (b0 >= 0xF0)
                    {
                        foreach (var b3 in Interesting)
                        {
                            Check(buffer, 29, (byte)b0, (byte)b1, b2, b3);
                            Check(buffer, 61, (byte)b0, (byte)b1, b2, b3);
                        }
                    }
                }
            }
        }
    }

    [Fact]
    public void Random_text_and_its_corruptions_agree_with_the_bcl()
    {
        var gen = from text in Gen.Choose(0, 0x10FFFF).Where(c => c is < 0xD800 or > 0xDFFF).Select(char.ConvertFromUtf32).ArrayOf()
                  from flips in Gen.Choose(0, 8)
                  from seed in ArbMap.Default.GeneratorFor<int>()
                  select (Encoding.UTF8.GetBytes(string.Concat(text)), flips, seed);
        Prop.ForAll(gen.ToArbitrary(), input =>
        {
            var (bytes, flips, seed) = input;
            var random = new Random(seed);
            for (var i = 0; i < flips && bytes.Length > 0; i++)
            {
                bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
            }

            return Utf8Validation.IsValid(bytes) == Utf8.IsValid(bytes);
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(2000).WithEndSize(400));
    }

    [Fact]
    public void Long_mixed_text_is_valid_and_a_late_error_is_found()
    {
        var text = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("refund € policy 日本 ünïcödé 🙂 ", 300)));

        Assert.True(Utf8Validation.IsValid(text));
        text[^7] = 0xC0;
        Assert.False(Utf8Validation.IsValid(text));
    }

    private static void Check(byte[] buffer, int offset, params byte[] sequence)
    {
        Array.Fill(buffer, (byte)'a');
        var length = Math.Min(sequence.Length, buffer.Length - offset);
        sequence.AsSpan(0, length).CopyTo(buffer.AsSpan(offset));
        var expected = Utf8.IsValid(buffer);
        if (Utf8Validation.IsValid(buffer) != expected)
        {
            Assert.Fail($"{Convert.ToHexString(sequence)} at offset {offset}: expected valid={expected}");
        }
    }

    [Fact]
    public void Ascii_copy_copies_exactly_and_finds_a_high_byte_at_every_position()
    {
        for (var length = 0; length <= 130; length++)
        {
            var source = new byte[length + 2];
            for (var i = 0; i < source.Length; i++)
            {
                source[i] = (byte)('a' + (i % 26));
            }

            for (var high = -1; high < length; high++)
            {
                var input = (byte[])source.Clone();
                if (high >= 0)
                {
                    input[1 + high] = 0xC3;
                }

                // Guard bytes around the destination and one byte of input on each side outside the slice.
                var destination = new byte[length + 2];
                destination.AsSpan().Fill(0xEE);
                var ascii = Utf8Validation.TryCopyAscii(input.AsSpan(1, length), destination.AsSpan(1, length));

                Assert.Equal(high < 0, ascii);
                Assert.Equal(0xEE, destination[0]);
                Assert.Equal(0xEE, destination[^1]);
                Assert.True(input.AsSpan(1, length).SequenceEqual(destination.AsSpan(1, length)), $"length {length}, high byte at {high}");
            }
        }
    }
}
