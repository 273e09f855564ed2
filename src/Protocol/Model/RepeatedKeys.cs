using System.Buffers;

namespace TraceStore.Protocol.Model;

/// <summary>
/// A KeyValue list read the way MLflow reads one: into a Python dict (<c>{kv.key: decode(kv.value) for kv in ...}</c>
/// in <c>Span.from_otel_proto</c> and its AnyValue decoding), so a key that repeats keeps the position of its first
/// occurrence and the value of its last. OTLP says keys MUST be unique, but the wire allows repeats and collectors
/// pass them on. The decoders keep a list as it was sent (they must round-trip exactly); whatever builds MLflow's view
/// of a list (stored attributes, event attributes, map values) reads it through this.
/// </summary>
public static class RepeatedKeys
{
    /// <summary>Lists up to this long are checked pairwise (no hashing); longer ones through a hash table.</summary>
    private const int PairwiseLimit = 16;

    /// <summary>Lists up to this long hash into a table on the stack (ints: 2 per entry); longer ones rent it.</summary>
    private const int StackTableLimit = 256;

    /// <summary>True when a key occurs more than once in <paramref name="range"/>. Allocates nothing for lists up to
    /// <see cref="StackTableLimit"/> entries (the usual case: a span's attributes); linear time for any length.</summary>
    public static bool Any(SpanBatch batch, RecordRange range)
    {
        var entries = batch.KeyValues.Slice(range);
        if (entries.Length <= PairwiseLimit)
        {
            for (var i = 1; i < entries.Length; i++)
            {
                var key = batch.Bytes(entries[i].Key);
                for (var j = 0; j < i; j++)
                {
                    if (key.SequenceEqual(batch.Bytes(entries[j].Key)))
                    {
                        return true;
                    }
                }
            }

            return false;
        }

        var size = TableSize(entries.Length);
        int[]? rented = null;
        var table = size <= 2 * StackTableLimit ? stackalloc int[size] : (rented = ArrayPool<int>.Shared.Rent(size)).AsSpan(0, size);
        try
        {
            table.Fill(-1);
            for (var i = 0; i < entries.Length; i++)
            {
                if (FindOrAdd(batch, entries, table, i) != i)
                {
                    return true;
                }
            }

            return false;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<int>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// For each distinct key of <paramref name="range"/>, in the order of its first occurrence, the index (into
    /// <see cref="SpanBatch.KeyValues"/>) of its last occurrence: the entries MLflow's dict holds, in its order. When
    /// no key repeats this is every index of the range in order; callers check <see cref="Any"/> first and
    /// take this (allocating) path only for lists that need it.
    /// </summary>
    public static int[] LastOccurrences(SpanBatch batch, RecordRange range)
    {
        var entries = batch.KeyValues.Slice(range);
        var table = new int[TableSize(entries.Length)];
        Array.Fill(table, -1);
        // positionOf[first occurrence] = its key's place among the distinct keys; lastOf[place] = its latest occurrence.
        var lastOf = new List<int>(entries.Length);
        var positionOf = new int[entries.Length];
        for (var i = 0; i < entries.Length; i++)
        {
            var first = FindOrAdd(batch, entries, table, i);
            if (first == i)
            {
                positionOf[i] = lastOf.Count;
                lastOf.Add(range.Start + i);
            }
            else
            {
                lastOf[positionOf[first]] = range.Start + i;
            }
        }

        return [.. lastOf];
    }

    /// <summary>The indices MLflow's dict holds, in its order: the range itself when no key repeats, otherwise
    /// <see cref="LastOccurrences"/>. For the paths that build JSON text (and allocate anyway).</summary>
    public static IEnumerable<int> Entries(SpanBatch batch, RecordRange range) =>
        Any(batch, range) ? LastOccurrences(batch, range) : Enumerable.Range(range.Start, range.Count);

    private static int TableSize(int entries) => (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(4, 2 * entries));

    /// <summary>Open addressing over entry indices (<c>-1</c> empty): the index of the first entry with entry
    /// <paramref name="i"/>'s key, adding <paramref name="i"/> when there is none. The table is at least twice the
    /// entries, so a probe always ends.</summary>
    private static int FindOrAdd(SpanBatch batch, ReadOnlySpan<KeyValueRecord> entries, Span<int> table, int i)
    {
        var key = batch.Bytes(entries[i].Key);
        var hash = new HashCode();
        hash.AddBytes(key);
        var mask = table.Length - 1;
        for (var slot = hash.ToHashCode() & mask; ; slot = (slot + 1) & mask)
        {
            var held = table[slot];
            if (held < 0)
            {
                table[slot] = i;
                return i;
            }

            if (key.SequenceEqual(batch.Bytes(entries[held].Key)))
            {
                return held;
            }
        }
    }
}
