namespace TraceStore.Fuzz;

/// <summary>
/// One parser under fuzzing. <see cref="Run"/> must return normally or throw the parser's own typed error for any
/// input; the runner treats every other exception as a finding.
/// </summary>
public interface IFuzzTarget
{
    string Name { get; }

    /// <summary>The exception type that means "input refused" for this target.</summary>
    Type ExpectedError { get; }

    /// <summary>Seed inputs: captured payloads (as this target consumes them) and generated messages.</summary>
    IReadOnlyList<byte[]> Seeds(Random random);

    /// <summary>Parses <paramref name="input"/>; <paramref name="split"/> picks segment boundaries for multi-segment paths.</summary>
    void Run(byte[] input, int split);
}
