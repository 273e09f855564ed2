using System.Reflection;
using TraceStore.Testing;

namespace TraceStore.Query.Tests;

public sealed class LayeringTests
{
    [Fact]
    public void Query_references_only_engine_protocol_and_duckdb() =>
        LayeringAssert.ReferencesOnly("Query", Assembly.Load("TraceStore.Query"), "TraceStore.Engine", "TraceStore.Protocol", "TraceStore.DuckDb");
}
