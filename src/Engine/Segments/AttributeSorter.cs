using System.Buffers.Binary;
using TraceStore.Engine.Assembly;
using TraceStore.Protocol.Model;

namespace TraceStore.Engine.Segments;

/// <summary>
/// Orders a segment's attributes (payloads excluded) by (key, value, span_row), the attrs file's order, without a string
/// comparison per row: the spans are walked in the spans file's order, each (key, value) pair is interned (one hash
/// lookup per attribute), only the distinct pairs are sorted (by key rank and 8 bytes of the value as a number, the
/// bytes only on a tie), and a counting sort by pair rank places every row, stable, so rows of one pair stay in
/// span_row order. Pairs repeat heavily (keys always, values often), which is what makes this cheaper than sorting the
/// rows.
/// <para>Reusable across segments: <see cref="Clear"/> keeps the arrays and the table.</para>
/// </summary>
internal sealed class AttributeSorter
{
    private readonly Dictionary<Pair, int> _pairs;
    private readonly PairComparer _comparer = new();
    private Pair[] _distinct = [];
    private int[] _rank = [];
    private int[] _pairOfRow = [];
    private AttributeRow[] _unsorted = [];
    private AttributeRow[] _rows = [];
    private int[] _starts = [];
    private RankKey[] _byBytes = [];
    private readonly TextComparer _keyComparer = new();
    private readonly Dictionary<Text, int> _keys;
    private readonly List<int> _firstOfKey = [];
    private int[] _keyOfPair = [];
    private int[] _keyRank = [];
    private int[] _sharedPrefix = [];

    public AttributeSorter()
    {
        _pairs = new Dictionary<Pair, int>(_comparer);
        _keys = new Dictionary<Text, int>(_keyComparer);
    }

    public int Count { get; private set; }

    public ReadOnlySpan<AttributeRow> Rows => _rows.AsSpan(0, Count);

    public void Sort(SegmentRows segment)
    {
        var traces = segment.Traces;
        _comparer.Traces = traces;
        _keyComparer.Traces = traces;
        _pairs.Clear();
        var spans = segment.Spans;
        var total = 0;
        foreach (var trace in traces)
        {
            total += trace.Attributes.Count;
        }

        Grow(ref _pairOfRow, total);
        Grow(ref _unsorted, total);
        var count = 0;
        for (var spanRow = 0; spanRow < spans.Length; spanRow++)
        {
            var key = spans[spanRow];
            var buffer = traces[key.Trace];
            ref readonly var span = ref buffer.Spans[key.Span];
            var range = span.Attributes;
            for (var a = range.Start; a < range.Start + range.Count; a++)
            {
                var attribute = buffer.Attributes[a];
                if (SegmentRows.IsPayload(span, attribute))
                {
                    continue;
                }

                var pair = new Pair(key.Trace, attribute.Key, attribute.Value, Hash(buffer, attribute));
                if (!_pairs.TryGetValue(pair, out var id))
                {
                    id = _pairs.Count;
                    _pairs.Add(pair, id);
                    if (id == _distinct.Length)
                    {
                        Array.Resize(ref _distinct, Math.Max(1024, id * 2));
                    }

                    _distinct[id] = pair;
                }

                _pairOfRow[count] = id;
                _unsorted[count++] = new AttributeRow(key.Trace, a, spanRow);
            }
        }

        Count = count;
        PlaceByRank(count);
    }

    public void Clear()
    {
        _comparer.Traces = [];
        _keyComparer.Traces = [];
        _pairs.Clear();
        _keys.Clear();
        Count = 0;
    }

    /// <summary>Ranks the distinct pairs by (key, value) bytes, then a stable counting sort places the rows. The pairs
    /// are ranked without a byte comparison per comparison: each distinct key gets its rank (keys are few), each value
    /// the 8 bytes that follow the prefix all values of its key share, as a big-endian number (<see cref="RankKey"/>),
    /// and those numbers are sorted; only pairs whose numbers tie are then ordered by their bytes.</summary>
    private void PlaceByRank(int count)
    {
        var distinct = _pairs.Count;
        var traces = _comparer.Traces;
        var keyOfPair = RankKeys(traces, distinct);
        Grow(ref _byBytes, distinct);
        var byBytes = _byBytes.AsSpan(0, distinct);
        for (var i = 0; i < distinct; i++)
        {
            var pair = _distinct[i];
            var key = keyOfPair[i];
            byBytes[i] = new RankKey(_keyRank[key], Prefix(traces[pair.Trace].Bytes(pair.Value), _sharedPrefix[key]), i);
        }

        byBytes.Sort();
        for (var start = 0; start < distinct;)
        {
            var end = start + 1;
            while (end < distinct && byBytes[end].Key == byBytes[start].Key && byBytes[end].Value == byBytes[start].Value)
            {
                end++;
            }

            if (end - start > 1)
            {
                byBytes[start..end].Sort(new ValueBytesComparer(traces, _distinct));
            }

            start = end;
        }

        Grow(ref _rank, distinct);
        Grow(ref _starts, distinct + 1);
        for (var r = 0; r < distinct; r++)
        {
            _rank[byBytes[r].Pair] = r;
        }

        var starts = _starts.AsSpan(0, distinct + 1);
        starts.Clear();
        for (var i = 0; i < count; i++)
        {
            starts[_rank[_pairOfRow[i]] + 1]++;
        }

        for (var r = 1; r <= distinct; r++)
        {
            starts[r] += starts[r - 1];
        }

        Grow(ref _rows, count);
        for (var i = 0; i < count; i++)
        {
            _rows[starts[_rank[_pairOfRow[i]]]++] = _unsorted[i];
        }
    }

    /// <summary>Gives each distinct key its rank by bytes (<see cref="_keyRank"/>) and the length of the prefix all
    /// values under it share (<see cref="_sharedPrefix"/>); returns the key of each distinct pair.</summary>
    private int[] RankKeys(IReadOnlyList<TraceBuffer> traces, int distinct)
    {
        _keys.Clear();
        _firstOfKey.Clear();
        Grow(ref _keyOfPair, distinct);
        for (var i = 0; i < distinct; i++)
        {
            var pair = _distinct[i];
            var bytes = traces[pair.Trace].Bytes(pair.Key);
            var text = new Text(pair.Trace, pair.Key, Hash(bytes));
            if (!_keys.TryGetValue(text, out var key))
            {
                key = _keys.Count;
                _keys.Add(text, key);
                _firstOfKey.Add(i);
                if (key == _sharedPrefix.Length)
                {
                    Array.Resize(ref _sharedPrefix, Math.Max(16, key * 2));
                    Array.Resize(ref _keyRank, Math.Max(16, key * 2));
                }

                _sharedPrefix[key] = int.MaxValue;
            }

            _keyOfPair[i] = key;
            var first = _distinct[_firstOfKey[key]];
            var common = traces[first.Trace].Bytes(first.Value).CommonPrefixLength(traces[pair.Trace].Bytes(pair.Value));
            _sharedPrefix[key] = Math.Min(_sharedPrefix[key], common);
        }

        var keys = new int[_keys.Count];
        for (var k = 0; k < keys.Length; k++)
        {
            keys[k] = k;
        }

        keys.AsSpan().Sort((x, y) =>
        {
            var a = _distinct[_firstOfKey[x]];
            var b = _distinct[_firstOfKey[y]];
            return traces[a.Trace].Bytes(a.Key).SequenceCompareTo(traces[b.Trace].Bytes(b.Key));
        });
        for (var r = 0; r < keys.Length; r++)
        {
            _keyRank[keys[r]] = r;
        }

        return _keyOfPair;
    }

    /// <summary>The 8 bytes of <paramref name="bytes"/> from <paramref name="offset"/> as a big-endian number,
    /// zero-padded: numbers compare as those bytes do, except that equal numbers may still be different texts (longer,
    /// or padding against zero bytes). Values sharing their first <paramref name="offset"/> bytes thus compare as these
    /// numbers, unless the numbers tie.</summary>
    private static ulong Prefix(ReadOnlySpan<byte> bytes, int offset)
    {
        var rest = bytes[Math.Min(offset, bytes.Length)..];
        if (rest.Length >= sizeof(ulong))
        {
            return BinaryPrimitives.ReadUInt64BigEndian(rest);
        }

        Span<byte> padded = stackalloc byte[sizeof(ulong)];
        padded.Clear();
        rest.CopyTo(padded);
        return BinaryPrimitives.ReadUInt64BigEndian(padded);
    }

    private static int Hash(ReadOnlySpan<byte> bytes)
    {
        var hash = default(HashCode);
        hash.AddBytes(bytes);
        return hash.ToHashCode();
    }

    private static int Hash(TraceBuffer buffer, StoredKeyValue attribute)
    {
        var hash = default(HashCode);
        hash.AddBytes(buffer.Bytes(attribute.Key));
        hash.Add(-1);
        hash.AddBytes(buffer.Bytes(attribute.Value));
        return hash.ToHashCode();
    }

    /// <summary>Makes <paramref name="array"/> at least <paramref name="length"/> long; its contents are not kept.</summary>
    private static void Grow<T>(ref T[] array, int length)
    {
        if (array.Length < length)
        {
            array = new T[Math.Max(length, array.Length * 2)];
        }
    }

    /// <summary>Distinct pair <see cref="Pair"/> by the rank of its key and the number of its value's bytes after the
    /// prefix shared under that key (<see cref="Prefix"/>); equal ones are ordered by <see cref="ValueBytesComparer"/>.</summary>
    private readonly record struct RankKey(int Key, ulong Value, int Pair) : IComparable<RankKey>
    {
        public int CompareTo(RankKey other) => Key != other.Key ? Key.CompareTo(other.Key) : Value.CompareTo(other.Value);
    }

    /// <summary>Pairs of one key by their values' bytes (the pairs are distinct, so never equal).</summary>
    private readonly struct ValueBytesComparer(IReadOnlyList<TraceBuffer> traces, Pair[] pairs) : IComparer<RankKey>
    {
        public int Compare(RankKey a, RankKey b)
        {
            var x = pairs[a.Pair];
            var y = pairs[b.Pair];
            return traces[x.Trace].Bytes(x.Value).SequenceCompareTo(traces[y.Trace].Bytes(y.Value));
        }
    }

    /// <summary>A key's bytes where it was first seen: a slice of trace <see cref="Trace"/>'s arena.</summary>
    private readonly record struct Text(int Trace, ArenaSlice Slice, int Hash);

    private sealed class TextComparer : IEqualityComparer<Text>
    {
        public IReadOnlyList<TraceBuffer> Traces { get; set; } = [];

        public bool Equals(Text x, Text y) => x.Hash == y.Hash && Traces[x.Trace].Bytes(x.Slice).SequenceEqual(Traces[y.Trace].Bytes(y.Slice));

        public int GetHashCode(Text text) => text.Hash;
    }

    /// <summary>A (key, value) pair where it was first seen: slices of trace <see cref="Trace"/>'s arena.</summary>
    private readonly record struct Pair(int Trace, ArenaSlice Key, ArenaSlice Value, int Hash);

    private sealed class PairComparer : IEqualityComparer<Pair>
    {
        public IReadOnlyList<TraceBuffer> Traces { get; set; } = [];

        public bool Equals(Pair x, Pair y) =>
            x.Hash == y.Hash
            && Traces[x.Trace].Bytes(x.Key).SequenceEqual(Traces[y.Trace].Bytes(y.Key))
            && Traces[x.Trace].Bytes(x.Value).SequenceEqual(Traces[y.Trace].Bytes(y.Value));

        public int GetHashCode(Pair pair) => pair.Hash;
    }
}
