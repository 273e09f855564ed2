using TraceStore.Testing;

namespace TraceStore.Engine.Tests;

public sealed class LayeringTests
{
    // System.Reflection.Assembly is spelled out: inside TraceStore.Engine.*, "Assembly" binds to the
    // TraceStore.Engine.Assembly namespace before any using directive is consulted.
    [Fact]
    public void Engine_references_only_protocol_and_duckdb() =>
        LayeringAssert.ReferencesOnly("Engine", System.Reflection.Assembly.Load("TraceStore.Engine"), "TraceStore.Protocol", "TraceStore.DuckDb");
}
