namespace TraceStore.Engine.Segments;

/// <summary>
/// Span id → span number for the stored spans of one trace (<see cref="SealedTraceParts"/>), compact enough for a
/// million spans: <see cref="Tables"/> open-addressing tables (linear probing, power-of-two capacity, at most three
/// quarters full) of 13 bytes per slot (id, number, in use), chosen by a multiplicative hash of the id. A Dictionary costs 28 bytes per
/// slot; and one table for the whole trace would double as one large array (copies on the large-object heap), while
/// these stay small: a million ids make about 1,000 per table (2,048 slots, 26 KB). Not thread-safe.
/// </summary>
internal sealed class SpanNumberIndex
{
    public const int Tables = 1024;
    private const int FirstCapacity = 8;
    private readonly Table?[] _tables = new Table?[Tables];

    /// <summary>Bytes held, counted from capacities.</summary>
    public long FootprintBytes { get; private set; } = Tables * 8L;

    /// <summary>Adds <paramref name="spanId"/> as number <paramref name="number"/>; false (nothing changes) when it is
    /// there already.</summary>
    public bool TryAdd(ulong spanId, int number)
    {
        var table = _tables[TableOf(spanId)] ??= NewTable();
        if (Find(table, spanId) >= 0)
        {
            return false;
        }

        if ((table.Count + 1) * 4 > table.Keys.Length * 3)
        {
            table = Grow(TableOf(spanId), table);
        }

        Insert(table, spanId, number);
        return true;
    }

    public bool TryGetValue(ulong spanId, out int number)
    {
        number = -1;
        var table = _tables[TableOf(spanId)];
        var slot = table is null ? -1 : Find(table, spanId);
        if (slot < 0)
        {
            return false;
        }

        number = table!.Numbers[slot];
        return true;
    }

    // Fibonacci hashing: the top 10 bits of the product, so ids that differ only in low bits spread over the tables.
    private static int TableOf(ulong spanId) => (int)((spanId * 0x9E3779B97F4A7C15UL) >> 54);

    // Within a table, the next bits of the same product (the top 10 chose the table).
    private static int SlotOf(ulong spanId, int mask) => (int)((spanId * 0x9E3779B97F4A7C15UL) >> 22) & mask;

    private Table NewTable()
    {
        FootprintBytes += (FirstCapacity * 13L) + 64;
        return new Table(FirstCapacity);
    }

    /// <summary>The slot holding <paramref name="spanId"/>, or -1.</summary>
    private static int Find(Table table, ulong spanId)
    {
        var mask = table.Keys.Length - 1;
        for (var slot = SlotOf(spanId, mask); table.Used[slot]; slot = (slot + 1) & mask)
        {
            if (table.Keys[slot] == spanId)
            {
                return slot;
            }
        }

        return -1;
    }

    private static void Insert(Table table, ulong spanId, int number)
    {
        var mask = table.Keys.Length - 1;
        var slot = SlotOf(spanId, mask);
        while (table.Used[slot])
        {
            slot = (slot + 1) & mask;
        }

        table.Keys[slot] = spanId;
        table.Numbers[slot] = number;
        table.Used[slot] = true;
        table.Count++;
    }

    private Table Grow(int at, Table table)
    {
        var grown = new Table(table.Keys.Length * 2);
        for (var slot = 0; slot < table.Keys.Length; slot++)
        {
            if (table.Used[slot])
            {
                Insert(grown, table.Keys[slot], table.Numbers[slot]);
            }
        }

        FootprintBytes += (grown.Keys.Length - table.Keys.Length) * 13L;
        _tables[at] = grown;
        return grown;
    }

    /// <summary>One table: a slot is in use when <see cref="Used"/> says so (0 is a valid key here).</summary>
    private sealed class Table(int capacity)
    {
        public ulong[] Keys { get; } = new ulong[capacity];

        public int[] Numbers { get; } = new int[capacity];

        public bool[] Used { get; } = new bool[capacity];

        public int Count { get; set; }
    }
}
