using System.Reflection;
using TraceStore.Testing;

namespace TraceStore.Protocol.Tests;

public sealed class LayeringTests
{
    [Fact]
    public void Protocol_references_nothing_of_ours() =>
        LayeringAssert.ReferencesOnly("Protocol", Assembly.Load("TraceStore.Protocol"));
}
