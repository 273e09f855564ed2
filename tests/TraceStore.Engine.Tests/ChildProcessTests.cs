namespace TraceStore.Engine.Tests;

/// <summary>
/// Tests that drive a child process at full speed (crash, overload, replay) run one at a time: run side by side on a
/// 2-core machine they starve each other, and the overload test needs its producers to outpace the store.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ChildProcessTests
{
    public const string Name = "child processes";
}
