using Microsoft.Extensions.Logging.Abstractions;
using TraceStore.Engine.Admission;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Hot;
using TraceStore.Engine.Segments;

namespace TraceStore.Testing;

/// <summary>
/// A real sealing pipeline on a temporary folder, without a WAL: the segment catalog, the segment writer, the span
/// assembler and the sealer (whose checkpoint does nothing), and the hot index over them, on the clock the test passes
/// (null: the system's). Tests drive it by hand (<c>Sealer.SealNow</c>, the clock, the hot index's seams). Disposing
/// stops the sealer and deletes the folder.
/// </summary>
public sealed class SealingPipeline : IDisposable
{
    public SealingPipeline(string folderName, long budgetBytes, AssemblerOptions assembler, SealerOptions sealer, TimeProvider? time = null)
    {
        Folder = new TempDirectory(folderName);
        Budget = new MemoryBudget(budgetBytes);
        Catalog = SegmentCatalog.Open(Folder.Path);
        Writer = new SegmentWriter(Catalog.SegmentsFolder);
        Assembler = new SpanAssembler(assembler, Budget, time);
        Sealer = new Sealer(Assembler, Budget, Writer, Catalog, () => { }, sealer, NullLogger.Instance, time);
        Hot = new HotIndex(Assembler, Sealer, Catalog);
    }

    public TempDirectory Folder { get; }

    public MemoryBudget Budget { get; }

    public SegmentCatalog Catalog { get; }

    public SegmentWriter Writer { get; }

    public SpanAssembler Assembler { get; }

    public Sealer Sealer { get; }

    public HotIndex Hot { get; }

    public void Dispose()
    {
        Sealer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Writer.Dispose();
        Catalog.Dispose();
        Folder.Dispose();
    }
}
