namespace TraceStore.Engine.Assembly;

/// <summary>
/// When the assembler considers a trace done and hands it to the sealer. A trace is complete when its root span has
/// ended and no new span arrived for <see cref="IdleAfterRootEnd"/>; it is sealed anyway (as partial, to be
/// completed by late spans in a later segment) once it is <see cref="MaxTraceAge"/> old, and in parts once it holds
/// <see cref="MaxSpansPerPart"/> spans or <see cref="MaxBytesPerPart"/> bytes. Under memory pressure the oldest traces
/// are sealed first whatever their state.
/// </summary>
public sealed record AssemblerOptions
{
    /// <summary>Quiet time after the root ended before the trace is sealed: children of a root usually end before
    /// it, but exporters batch, so a few of them arrive just after. Default 2 s.</summary>
    public TimeSpan IdleAfterRootEnd { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Longest a trace stays open, measured from its first span: long agent sessions must not pin the WAL
    /// (or memory) forever. Default 5 minutes.</summary>
    public TimeSpan MaxTraceAge { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Spans after which an open trace is sealed as a part and a new part begins. Default 10,000.</summary>
    public int MaxSpansPerPart { get; init; } = 10_000;

    /// <summary>Bytes (the buffer's footprint) after which an open trace is sealed as a part. Default 64 MiB.</summary>
    public long MaxBytesPerPart { get; init; } = 64L << 20;

    public AssemblerOptions Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(IdleAfterRootEnd, TimeSpan.Zero, nameof(IdleAfterRootEnd));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxTraceAge, IdleAfterRootEnd, nameof(MaxTraceAge));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxSpansPerPart, 1, nameof(MaxSpansPerPart));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBytesPerPart, 64L << 10, nameof(MaxBytesPerPart));
        return this;
    }
}
