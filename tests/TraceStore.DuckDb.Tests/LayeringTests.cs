using TraceStore.Testing;

namespace TraceStore.DuckDb.Tests;

public sealed class LayeringTests
{
    [Fact]
    public void DuckDb_references_nothing_of_ours() =>
        LayeringAssert.ReferencesOnly("DuckDb", typeof(DuckDbException).Assembly);
}
