using static TraceStore.Server.Tests.CliRunner;
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
