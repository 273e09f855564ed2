using static TraceStore.Server.Tests.CliRunner;
using TraceStore.Engine.Admission;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Segments;
using TraceStore.Engine.Wal;
using TraceStore.Server.Cli;
using TraceStore.Testing;

namespace TraceStore.Server.Tests;

public sealed class VerifyCommandTests
{
    [Fact]
    public async Task Sound_log_verifies_with_its_counts()
    {
        using var data = new TempDirectory();
        await WriteLog(data.Path, records: 20);

        var (exit, output, _) = Run("verify", "--data", data.Path);

        Assert.Equal(0, exit);
        Assert.Contains("records     20 (", output, StringComparison.Ordinal);
        Assert.Contains("next seq    21", output, StringComparison.Ordinal);
        Assert.Contains("status      sound", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Torn_tail_is_reported_and_cut_only_with_repair()
    {
        using var data = new TempDirectory();
        var segment = await WriteLog(data.Path, records: 5);
        using (var file = new FileStream(segment, FileMode.Open))
        {
            file.SetLength(file.Length - 7);
        }

        var length = new FileInfo(segment).Length;
        var (exit, output, _) = Run("verify", "--data", data.Path);
        Assert.Equal(0, exit);
        Assert.Contains("torn tail", output, StringComparison.Ordinal);
        Assert.Contains("to cut on next open", output, StringComparison.Ordinal);
        Assert.Equal(length, new FileInfo(segment).Length);

        var (repairExit, repaired, _) = Run("verify", "--data", data.Path, "--repair");
        Assert.Equal(0, repairExit);
        Assert.Contains("records     4 (", repaired, StringComparison.Ordinal);
        Assert.True(new FileInfo(segment).Length < length);
    }

    [Fact]
    public async Task Corruption_exits_3_naming_the_place_and_repair_quarantines_it()
    {
        using var data = new TempDirectory();
        var segment = await WriteLog(data.Path, records: 10);
        var bytes = File.ReadAllBytes(segment);
        var recordSize = (bytes.Length - WalFormat.SegmentHeaderSize) / 10;
        var fourth = WalFormat.SegmentHeaderSize + (3 * recordSize);
        bytes[fourth + 30] ^= 0x55;
        File.WriteAllBytes(segment, bytes);

        var (exit, _, error) = Run("verify", "--data", data.Path);
        Assert.Equal(VerifyCommand.Corrupt, exit);
        Assert.Contains($"WAL segment {Path.GetFileName(segment)} is corrupt at byte {fourth}: the record checksum does not match", error, StringComparison.Ordinal);

        var (repairExit, output, _) = Run("verify", "--data", data.Path, "--repair");
        Assert.Equal(0, repairExit);
        Assert.Contains("records     3 (", output, StringComparison.Ordinal);
        var quarantined = Assert.Single(Directory.GetFiles(Path.Combine(data.Path, "wal", WalMaintenance.QuarantineFolder)));
        Assert.Equal(bytes.Length - fourth, new FileInfo(quarantined).Length);
        Assert.Equal(0, Run("verify", "--data", data.Path).Exit);
    }

    [Fact]
    public void Folder_without_a_log_exits_1()
    {
        using var data = new TempDirectory();

        Assert.Equal(1, Run("verify", "--data", data.Path).Exit);
    }

    [Fact]
    public async Task Sound_segments_are_counted_against_the_catalog()
    {
        using var data = new TempDirectory();
        await WriteLog(data.Path, records: 1);
        var spans = SealCapturedPayload(data.Path);

        var (exit, output, _) = Run("verify", "--data", data.Path);

        Assert.Equal(0, exit);
        Assert.Contains($"sealed      1 segments, ", output, StringComparison.Ordinal);
        Assert.Contains($"{spans} spans", output, StringComparison.Ordinal);
        Assert.Contains("status      sound", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_segment_file_is_corruption_and_uncommitted_folders_are_only_reported()
    {
        using var data = new TempDirectory();
        await WriteLog(data.Path, records: 1);
        SealCapturedPayload(data.Path);
        var segments = Path.Combine(data.Path, "segments");
        var committed = Directory.GetDirectories(segments).Single();
        File.Delete(Path.Combine(committed, SegmentFormat.AttrsFile));
        Directory.CreateDirectory(Path.Combine(segments, SegmentFormat.FolderName(99)));

        var (exit, output, error) = Run("verify", "--data", data.Path);

        Assert.Equal(VerifyCommand.Corrupt, exit);
        Assert.Contains($"missing {SegmentFormat.AttrsFile}", error, StringComparison.Ordinal);
        Assert.Contains($"uncommitted {SegmentFormat.FolderName(99)}", output, StringComparison.Ordinal);
        Assert.True(Directory.Exists(Path.Combine(segments, SegmentFormat.FolderName(99))));

        Run("verify", "--data", data.Path, "--repair");
        Assert.False(Directory.Exists(Path.Combine(segments, SegmentFormat.FolderName(99))));
    }

    [Fact]
    public async Task Folders_replaced_by_compaction_but_not_yet_deleted_are_reported_as_retired_and_removed_with_repair()
    {
        using var data = new TempDirectory();
        await WriteLog(data.Path, records: 1);
        SealCapturedPayload(data.Path);
        using (var catalog = SegmentCatalog.Open(data.Path))
        using (var writer = new SegmentWriter(catalog.SegmentsFolder))
        {
            var assembler = new SpanAssembler(new AssemblerOptions(), new MemoryBudget(64L << 20));
            assembler.Add(DecodedBatches.Decode(TestPayloads.All[2]), "0", walSequence: 2);
            catalog.Commit(writer.Write(2, [.. assembler.TakeAll().Select(t => t.Buffer)]));

            // A reader's lease keeps the replaced folders on disk, as a crash between the commit and their deletion would.
            using var lease = catalog.AcquireReadLease();
            using var compactor = new SegmentCompactor(catalog);
            compactor.Merge(catalog.Segments());
        }

        var (exit, output, _) = Run("verify", "--data", data.Path);
        Assert.Equal(0, exit);
        Assert.Contains($"retired     {SegmentFormat.FolderName(1)} (replaced by compaction", output, StringComparison.Ordinal);
        Assert.Contains($"retired     {SegmentFormat.FolderName(2)}", output, StringComparison.Ordinal);
        Assert.DoesNotContain("uncommitted", output, StringComparison.Ordinal);

        Run("verify", "--data", data.Path, "--repair");
        var segments = Path.Combine(data.Path, "segments");
        Assert.Equal([SegmentFormat.FolderName(3)], Directory.GetDirectories(segments).Select(Path.GetFileName));
    }

    /// <summary>Seals the first captured payload as segment 1 of the store in <paramref name="data"/>; returns its spans.</summary>
    private static long SealCapturedPayload(string data)
    {
        var file = TestPayloads.All[0];
        var batch = DecodedBatches.Decode(file);

        var assembler = new SpanAssembler(new AssemblerOptions(), new MemoryBudget(64L << 20));
        assembler.Add(batch, "0", walSequence: 1);
        using var catalog = SegmentCatalog.Open(data);
        using var writer = new SegmentWriter(catalog.SegmentsFolder);
        var segment = writer.Write(1, [.. assembler.TakeAll().Select(t => t.Buffer)]);
        catalog.Commit(segment);
        return segment.Spans;
    }

    private static async Task<string> WriteLog(string data, int records)
    {
        var folder = Path.Combine(data, "wal");
        var writer = WalWriter.Open(new FileWalStorage(folder), new WalOptions(), nextSequence: 1);
        for (var i = 0; i < records; i++)
        {
            await writer.AppendAsync(new WalEntry("0", i, WalPayloadFormat.Protobuf, WalPayloadEncoding.Identity, new byte[300]));
        }

        await writer.DisposeAsync();
        return Directory.GetFiles(folder).Single();
    }
}
