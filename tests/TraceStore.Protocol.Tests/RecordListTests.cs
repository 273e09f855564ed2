using TraceStore.Protocol.Model;

namespace TraceStore.Protocol.Tests;

/// <summary><see cref="RecordList{T}"/> growth: doubling, stopped at <see cref="RecordList{T}.GrowthCap"/>, then a
/// quarter at a time.</summary>
public sealed class RecordListTests
{
    [Fact]
    public void Growth_doubles_until_the_cap_stops_at_it_then_adds_a_quarter()
    {
        var list = new RecordList<long>(initialCapacity: 4) { GrowthCap = 10 };
        var capacities = new List<int>();
        for (var i = 0; i < 20; i++)
        {
            list.Add() = i;
            if (capacities.Count == 0 || capacities[^1] != list.Capacity)
            {
                capacities.Add(list.Capacity);
            }
        }

        Assert.Equal([4, 8, 10, 14, 18, 22], capacities);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => (long)i), list.AsSpan().ToArray());
    }

    [Fact]
    public void Without_a_cap_growth_doubles_and_a_range_larger_than_that_gets_what_it_needs()
    {
        var list = new RecordList<int>(initialCapacity: 4);
        list.AddRange(new int[5]);
        Assert.Equal(8, list.Capacity);
        list.AddRange(new int[40]);
        Assert.Equal(45, list.Capacity);
    }

    [Fact]
    public void A_taken_array_leaves_the_list_empty_and_a_list_over_it_overwrites_the_old_records()
    {
        var list = new RecordList<long>(initialCapacity: 8);
        for (var i = 0; i < 8; i++)
        {
            list.Add() = 100 + i;
        }

        var array = list.TakeArray();
        Assert.Equal(0, list.Count);
        Assert.Equal(0, list.Capacity);
        Assert.True(list.AsSpan().IsEmpty);
        Assert.Throws<ArgumentOutOfRangeException>(() => list[0]);

        var reused = new RecordList<long>(array);
        Assert.Equal(0, reused.Count);
        Assert.Equal(8, reused.Capacity);
        Assert.Equal(0, reused.Add());
        reused.AddRange([7, 8]);
        Assert.Equal([0L, 7, 8], reused.AsSpan().ToArray());
        Assert.Same(array, reused.TakeArray());

        // The emptied list still works, from no capacity.
        list.Add() = 5;
        Assert.Equal([5L], list.AsSpan().ToArray());
    }

    [Fact]
    public void A_taken_arena_array_leaves_the_arena_empty_and_an_arena_over_it_reads_only_what_it_appended()
    {
        var arena = new ByteArena(64);
        var old = arena.Append("old bytes"u8);
        var bytes = arena.TakeBytes();
        Assert.Equal(0, arena.Length);
        Assert.Equal(0, arena.Capacity);
        Assert.Throws<ArgumentOutOfRangeException>(() => arena[old].ToArray());

        var reused = new ByteArena(bytes);
        Assert.Equal(64, reused.Capacity);
        var slice = reused.Append("new"u8);
        Assert.Equal("new"u8.ToArray(), reused[slice].ToArray());
        Assert.Equal(3, reused.Length);
    }
}
