namespace TraceStore.Fuzz;

/// <summary>
/// Byte-level mutations aimed at length-prefixed and textual formats: bit flips, interesting bytes, inserts,
/// deletions, truncation, duplication, splicing with another input, varint overflows, and length-field
/// corruption (a varint at a random spot replaced by a larger, smaller or huge value). Deterministic per seed.
/// </summary>
public sealed class Mutator(Random random)
{
    private static readonly byte[] Interesting = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE, (byte)'"', (byte)'{', (byte)'}', (byte)'[', (byte)']', (byte)'\\', (byte)':', (byte)',', 0x0A, 0x08, 0x12, 0x1A, 0x22, 0x2A];

    public byte[] Mutate(byte[] input, IReadOnlyList<byte[]> corpus)
    {
        var data = new List<byte>(input);
        var rounds = 1 + random.Next(random.Next(2) == 0 ? 2 : 8);
        for (var i = 0; i < rounds; i++)
        {
            MutateOnce(data, corpus);
        }

        return [.. data];
    }

    private void MutateOnce(List<byte> data, IReadOnlyList<byte[]> corpus)
    {
        var position = data.Count == 0 ? 0 : random.Next(data.Count);
        switch (random.Next(10))
        {
            case 0 when data.Count > 0:
                data[position] ^= (byte)(1 << random.Next(8));
                break;
            case 1 when data.Count > 0:
                data[position] = Interesting[random.Next(Interesting.Length)];
                break;
            case 2:
                var insert = new byte[1 + random.Next(8)];
                random.NextBytes(insert);
                data.InsertRange(position, insert);
                break;
            case 3 when data.Count > 0:
                data.RemoveRange(position, Math.Min(data.Count - position, 1 + random.Next(16)));
                break;
            case 4 when data.Count > 0:
                data.RemoveRange(position, data.Count - position);
                break;
            case 5 when data.Count > 0:
                var length = Math.Min(data.Count - position, 1 + random.Next(64));
                data.InsertRange(random.Next(data.Count), data.GetRange(position, length));
                break;
            case 6 when corpus.Count > 0:
                var other = corpus[random.Next(corpus.Count)];
                if (other.Length > 0)
                {
                    var from = random.Next(other.Length);
                    data.InsertRange(position, other.AsSpan(from, Math.Min(other.Length - from, 1 + random.Next(256))).ToArray());
                }

                break;
            case 7:
                data.InsertRange(position, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]);
                break;
            case 8 when data.Count > 0:
                CorruptVarint(data, position);
                break;
            default:
                if (data.Count > 0)
                {
                    data[position] = (byte)random.Next(256);
                }

                break;
        }
    }

    private void CorruptVarint(List<byte> data, int position)
    {
        ulong value = 0;
        var end = position;
        for (var shift = 0; end < data.Count && shift < 64; shift += 7)
        {
            var b = data[end++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                break;
            }
        }

        var replacement = random.Next(4) switch
        {
            0 => value + (ulong)random.Next(1, 100),
            1 => value > 0 ? value - 1 : 0,
            2 => (ulong)random.NextInt64(),
            _ => (ulong)uint.MaxValue + (ulong)random.Next(2),
        };
        var encoded = new List<byte>();
        do
        {
            var b = (byte)(replacement & 0x7F);
            replacement >>= 7;
            encoded.Add(replacement == 0 ? b : (byte)(b | 0x80));
        }
        while (replacement != 0);
        data.RemoveRange(position, end - position);
        data.InsertRange(position, encoded);
    }
}
