using Microsoft.Extensions.Logging;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Compaction;
using TraceStore.Engine.Ingest;
using TraceStore.Engine.Segments;
using TraceStore.Engine.Wal;
using TraceStore.Protocol.Otlp;

namespace TraceStore.Engine;

/// <summary>Settings of one store. Immutable; checked by <see cref="Validate"/> when the store opens.</summary>
public sealed record TraceStoreOptions
{
    /// <summary>The store's folder: <c>wal/</c> for the write-ahead log, <c>segments/</c> and <c>catalog.duckdb</c> for
    /// sealed traces, and a <c>LOCK</c> file that keeps a second process out. Created if missing.</summary>
    public required string DataDirectory { get; init; }

    public WalOptions Wal { get; init; } = new();

    /// <summary>When a trace is complete (and when it is sealed anyway).</summary>
    public AssemblerOptions Assembler { get; init; } = new();

    /// <summary>How sealed traces are batched into segments.</summary>
    public SealerOptions Sealer { get; init; } = new();

    /// <summary>How segments are merged in the background (and whether the maintenance loop runs by itself).</summary>
    public CompactionOptions Compaction { get; init; } = new();

    /// <summary>How long and how much each experiment keeps. Default: everything, forever.</summary>
    public RetentionOptions Retention { get; init; } = new();

    /// <summary>The clock of retention (its cutoff), of the maintenance loop's interval, and of the times stamped on
    /// deletions and tag changes. Tests set their own to control time.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
    /// <summary>How segment files are written (the writer's DuckDB memory, files written at once).</summary>
    public SegmentWriterOptions SegmentWriter { get; init; } = new();

    /// <summary>Limits applied to every request (and again at replay).</summary>
    public OtlpDecoderOptions Decoder { get; init; } = OtlpDecoderOptions.Default;

    /// <summary>
    /// The one memory budget of the ingest path (request bodies in flight, decoded batches, and the assembler's and
    /// sealer's contents). At the limit new requests are refused as overloaded before they are buffered. Must hold at
    /// least two of the largest requests (<see cref="OtlpDecoderOptions.MaxMessageBytes"/>).
    /// </summary>
    public long MemoryBudgetBytes { get; init; } = 1L << 30;

    /// <summary>Fraction of the budget above which the engine asks the assembler to seal early.</summary>
    public double HighWatermarkFraction { get; init; } = 0.8;

    /// <summary>Most requests decoding at once: bounds the transient memory a decode holds before admission can count
    /// its result (a decompressed body and a growing batch). Default: two per core.</summary>
    public int MaxConcurrentDecodes { get; init; } = Math.Max(2, Environment.ProcessorCount * 2);

    /// <summary>Experiment for requests that name none (MLflow's default experiment is "0").</summary>
    public string DefaultExperimentId { get; init; } = "0";

    /// <summary>Where the store logs (torn WAL tails, storage failures). Null: no logging.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>The WAL's file seam. Null (the default): real files under <c>DataDirectory/wal</c>. Set it to wrap
    /// storage, e.g. to inject faults in tests.</summary>
    public IWalStorage? WalStorage { get; init; }

    public TraceStoreOptions Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(DataDirectory, nameof(DataDirectory));
        Wal.Validate();
        Assembler.Validate();
        Sealer.Validate();
        Compaction.Validate();
        Retention.Validate();
        ArgumentNullException.ThrowIfNull(TimeProvider, nameof(TimeProvider));
        SegmentWriter.Validate();
        Decoder.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(HighWatermarkFraction, 0.1, nameof(HighWatermarkFraction));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(HighWatermarkFraction, 1.0, nameof(HighWatermarkFraction));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConcurrentDecodes, 1, nameof(MaxConcurrentDecodes));
        if (MemoryBudgetBytes < 2 * Decoder.MaxMessageBytes)
        {
            throw new ArgumentOutOfRangeException(
                nameof(MemoryBudgetBytes),
                MemoryBudgetBytes,
                $"The memory budget must hold at least two of the largest requests: raise MemoryBudgetBytes to {2 * Decoder.MaxMessageBytes} or lower Decoder.MaxMessageBytes.");
        }

        IngestValidation.CheckExperimentId(DefaultExperimentId, nameof(DefaultExperimentId));
        return this;
    }
}
