using TraceStore.Testing;

namespace TraceStore.Engine.Tests;

public sealed class LayeringTests
{
    [Fact]
    public void Engine_references_only_protocol_and_duckdb() =>
        LayeringAssert.ReferencesOnly("Engine", System.Reflection.Assembly.Load("TraceStore.Engine"), "TraceStore.Protocol", "TraceStore.DuckDb");
}
