using TraceStore.Engine.Segments;

namespace TraceStore.Engine.Tests.Segments;

public sealed class SpanNumberIndexTests
{
    [Fact]
    public void Numbers_every_distinct_id_once_like_a_dictionary_through_many_growths()
    {
        // 300,000 ids (with 0, repeats and ids differing only in low or high bits) make every table grow several times.
        var index = new SpanNumberIndex();
        var expected = new Dictionary<ulong, int>();
        var random = new Random(7);
        var footprint = index.FootprintBytes;
        for (var i = 0; i < 300_000; i++)
        {
            var id = (i % 3) switch
            {
                0 => (ulong)i,
                1 => (ulong)i << 40,
                _ => (ulong)random.NextInt64(),
            };
            if (i % 10 == 0 && expected.Count > 0)
            {
                id = expected.Keys.ElementAt(random.Next(Math.Min(expected.Count, 50)));
            }

            var isNew = !expected.ContainsKey(id);
            Assert.Equal(isNew, index.TryAdd(id, expected.Count));
            if (isNew)
            {
                expected.Add(id, expected.Count);
            }
        }

        foreach (var (id, number) in expected)
        {
            Assert.True(index.TryGetValue(id, out var found));
            Assert.Equal(number, found);
        }

        Assert.Equal(expected.ContainsKey(0xdead_beef_0000_0001UL), index.TryGetValue(0xdead_beef_0000_0001UL, out _));
        Assert.True(index.FootprintBytes > footprint + (expected.Count * 13L), "the footprint does not count the slots");
    }
}
