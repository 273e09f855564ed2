using System.Runtime.CompilerServices;

namespace TraceStore.Protocol.Model;

/// <summary>
/// A growable array of records that keeps its capacity across <see cref="Clear"/>, so a reused
/// <see cref="SpanBatch"/> stops allocating once it has seen its largest request. Records are returned by
/// reference for in-place filling.
/// <para>Locals are not zeroed on entry (<c>SkipLocalsInit</c>: see <see cref="Otlp.Protobuf.OtlpProtobufDecoder"/>).</para>
/// </summary>
[SkipLocalsInit]
public sealed class RecordList<T>
    where T : struct
{
    private T[] _items;

    public RecordList(int initialCapacity = 16) => _items = new T[Math.Max(initialCapacity, 4)];

    /// <summary>An empty list over <paramref name="items"/> (an array taken back with <see cref="TakeArray"/> from a
    /// list no one reads any more): its capacity is the array's length, and the old records in it are overwritten as
    /// records are added (<see cref="Add"/> clears each one).</summary>
    public RecordList(T[] items)
    {
        ArgumentNullException.ThrowIfNull(items);
        _items = items;
    }

    public int Count { get; private set; }

    /// <summary>Where doubling stops: growth that would pass this capacity stops at it, and growth beyond it adds a
    /// quarter of the capacity at a time (still linear amortized cost). Default: no cap. A trace buffer caps its spans
    /// at the part size it will be sealed at, so its last growth is not a doubling past what it can ever hold (a jump
    /// the memory budget has to take whole).</summary>
    public int GrowthCap { get; set; } = int.MaxValue;

    /// <summary>Records allocated (at least <see cref="Count"/>).</summary>
    public int Capacity => _items.Length;

    public ref T this[int index]
    {
        get
        {
            if ((uint)index >= (uint)Count)
            {
                ThrowIndex(index);
            }

            return ref _items[index];
        }
    }

    public ReadOnlySpan<T> AsSpan() => _items.AsSpan(0, Count);

    public ReadOnlySpan<T> Slice(RecordRange range) => _items.AsSpan(range.Start, range.Count);

    /// <summary>Appends a default record and returns a reference to it (valid until the next append).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref T Add()
    {
        if (Count == _items.Length)
        {
            Grow(Count + 1);
        }

        ref var item = ref _items[Count++];
        item = default;
        return ref item;
    }

    /// <summary>Appends <paramref name="items"/> as one contiguous run and returns where it starts.</summary>
    public int AddRange(ReadOnlySpan<T> items)
    {
        if (Count + items.Length > _items.Length)
        {
            Grow(Count + items.Length);
        }

        var start = Count;
        items.CopyTo(_items.AsSpan(start));
        Count += items.Length;
        return start;
    }

    /// <summary>Drops records from <paramref name="count"/> on (rolls back a partly decoded element).</summary>
    public void Truncate(int count)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)count, (uint)Count, nameof(count));
        Count = count;
    }

    public void Clear() => Count = 0;

    /// <summary>Hands the array over (to be reused by a new list, <see cref="RecordList{T}(T[])"/>) and leaves this list
    /// empty with no capacity: whoever still reads this list afterwards sees no records rather than someone else's.</summary>
    public T[] TakeArray()
    {
        var items = _items;
        _items = [];
        Count = 0;
        return items;
    }

    private void Grow(int needed)
    {
        var length = _items.Length;
        var next = length < GrowthCap ? Math.Min((long)length * 2, GrowthCap) : length + Math.Max(4L, length >> 2);
        Array.Resize(ref _items, (int)Math.Max(needed, Math.Min(next, Array.MaxLength)));
    }

    private void ThrowIndex(int index) =>
        throw new ArgumentOutOfRangeException(nameof(index), index, $"Index {index} is outside the {Count} records.");
}
