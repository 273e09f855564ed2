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
}
