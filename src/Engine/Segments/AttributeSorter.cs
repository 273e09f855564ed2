using TraceStore.Engine.Assembly;
using TraceStore.Protocol.Model;

namespace TraceStore.Engine.Segments;

/// <summary>
/// Orders a segment's attributes (payloads excluded) by (key, value, span_row), the attrs file's order, without a string
/// comparison per row: the spans are walked in the spans file's order, each (key, value) pair is interned (one hash
/// lookup per attribute), only the distinct pairs are sorted by their bytes, and a counting sort by pair rank places
/// every row, stable, so rows of one pair stay in span_row order. Pairs repeat heavily (keys always,
/// values often), which is what makes this cheaper than sorting the rows.
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

    public AttributeSorter() => _pairs = new Dictionary<Pair, int>(_comparer);

    public int Count { get; private set; }

    public ReadOnlySpan<AttributeRow> Rows => _rows.AsSpan(0, Count);

    public void Sort(SegmentRows segment)
    {
        var traces = segment.Traces;
        _comparer.Traces = traces;
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
        _pairs.Clear();
        Count = 0;
    }

    /// <summary>Ranks the distinct pairs by (key, value) bytes, then a stable counting sort places the rows.</summary>
    private void PlaceByRank(int count)
    {
        var distinct = _pairs.Count;
        var byBytes = new int[distinct];
        for (var i = 0; i < distinct; i++)
        {
            byBytes[i] = i;
        }

        var traces = _comparer.Traces;
        var pairs = _distinct;
        byBytes.AsSpan().Sort((a, b) =>
        {
            var x = pairs[a];
            var y = pairs[b];
            var c = traces[x.Trace].Bytes(x.Key).SequenceCompareTo(traces[y.Trace].Bytes(y.Key));
            return c != 0 ? c : traces[x.Trace].Bytes(x.Value).SequenceCompareTo(traces[y.Trace].Bytes(y.Value));
        });
        Grow(ref _rank, distinct);
        Grow(ref _starts, distinct + 1);
        for (var r = 0; r < distinct; r++)
        {
            _rank[byBytes[r]] = r;
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
