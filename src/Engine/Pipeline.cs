using Microsoft.Extensions.Logging;
using TraceStore.Engine.Admission;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Compaction;
using TraceStore.Engine.Ingest;
using TraceStore.Engine.Segments;
using TraceStore.Engine.Wal;

namespace TraceStore.Engine;

/// <summary>
/// What happens to spans after the WAL: the assembler, the sealer with its segment writer, the catalog, and the WAL
/// checkpoint that ties them together. The checkpoint may advance to the lowest WAL sequence any of them still needs:
/// read in the order WAL next sequence → requests in flight → assembler → sealer, so a request moving from one to
/// the next between two reads is always seen by the later one. Beside them runs the maintenance loop (retention and
/// compaction), started with the sealer once replay is over.
/// </summary>
internal sealed class Pipeline : IAsyncDisposable
{
    private readonly ILogger _logger;
    private WalWriter? _wal;

    private Pipeline(SegmentCatalog catalog, SegmentWriter writer, SpanAssembler assembler, MemoryBudget budget, TraceStoreOptions options, ILogger logger)
    {
        Catalog = catalog;
        Writer = writer;
        Assembler = assembler;
        _logger = logger;
        Sealer = new Sealer(assembler, budget, writer, catalog, Checkpoint, options.Sealer, logger);
        Maintenance = new StoreMaintenance(catalog, options.Compaction, options.Retention, options.TimeProvider, logger, () => budget.Shortages);
    }

    public SegmentCatalog Catalog { get; }

    public SegmentWriter Writer { get; }

    public SpanAssembler Assembler { get; }

    public Sealer Sealer { get; }

    public StoreMaintenance Maintenance { get; }

    public InFlightSequences InFlight { get; } = new();

    public static Pipeline Open(TraceStoreOptions options, MemoryBudget budget, ILogger logger)
    {
        var catalog = SegmentCatalog.Open(options.DataDirectory, options.TimeProvider);
        SegmentWriter? writer = null;
        try
        {
            foreach (var removed in catalog.RemoveRetired())
            {
                EngineLog.RetiredSegmentRemoved(logger, removed);
            }

            foreach (var removed in catalog.RemoveUncommitted())
            {
                EngineLog.UncommittedSegmentRemoved(logger, removed);
            }

            writer = new SegmentWriter(catalog.SegmentsFolder, options.SegmentWriter);
            var assembler = new SpanAssembler(options.Assembler, budget);
            var pipeline = new Pipeline(catalog, writer, assembler, budget, options, logger);
            budget.HighWatermarkCrossed += pipeline.Sealer.Signal;
            return pipeline;
        }
        catch
        {
            writer?.Dispose();
            catalog.Dispose();
            throw;
        }
    }

    /// <summary>Starts sealing and maintenance in the background, with <paramref name="wal"/> to checkpoint (replay is
    /// over).</summary>
    public void Start(WalWriter wal)
    {
        Volatile.Write(ref _wal, wal);
        Sealer.Start();
        Maintenance.Start();
    }

    public async ValueTask DisposeAsync()
    {
        await Maintenance.DisposeAsync().ConfigureAwait(false);
        await Sealer.DisposeAsync().ConfigureAwait(false);
        Writer.Dispose();
        Catalog.Dispose();
    }

    private void Checkpoint()
    {
        var wal = Volatile.Read(ref _wal);
        if (wal is null)
        {
            // Still replaying: the log is read-only until replay ends.
            return;
        }

        var lowest = wal.NextSequence;
        lowest = Math.Min(lowest, InFlight.Lowest());
        lowest = Math.Min(lowest, Assembler.LowestWalSequence());
        lowest = Math.Min(lowest, Sealer.LowestPendingWalSequence());
        try
        {
            Catalog.SetWalNeededFrom(lowest);
            wal.Checkpoint(lowest);
        }
        catch (IOException e)
        {
            // A failed delete leaves a segment that replay skips past; the next checkpoint tries again.
            EngineLog.CheckpointFailed(_logger, lowest, e.Message);
        }
    }
}
