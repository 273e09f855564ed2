namespace TraceStore.Engine.Assembly;

/// <summary>Why a trace buffer left the assembler.</summary>
public enum SealReason
{
    /// <summary>The root ended and the trace was quiet for the idle period.</summary>
    Complete,

    /// <summary>The trace reached the maximum age while open (sealed as partial; later spans go to a later part).</summary>
    MaxAge,

    /// <summary>The trace reached the span or byte bound of one part.</summary>
    PartFull,

    /// <summary>The memory budget passed its high watermark: the oldest traces went first.</summary>
    MemoryPressure,

    /// <summary>An explicit flush (shutdown, <c>tracestore seal</c>, tests).</summary>
    Flush,
}

/// <summary>A trace buffer handed to the sealer, and why.</summary>
public sealed record SealedTrace(TraceBuffer Buffer, SealReason Reason);
