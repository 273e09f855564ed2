namespace TraceStore.Query.Tests;

/// <summary>
/// Tests that drive a child process at full speed (the seal crash windows) run one at a time: side by side on a
/// 2-core machine they starve each other.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ChildProcessTests
{
    public const string Name = "child processes";
}
