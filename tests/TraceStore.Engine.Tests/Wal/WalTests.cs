using System.Text;
using FsCheck;
using FsCheck.Fluent;
using TraceStore.Engine.Wal;
using TraceStore.Testing;

namespace TraceStore.Engine.Tests.Wal;

public sealed class WalFormatTests
{
    [Fact]
    public void Crc32c_matches_the_standard_check_value() =>
        Assert.Equal(0xE3069283u, WalFormat.Crc32C("123456789"u8));

    [Fact]
    public void Records_round_trip_for_any_entry()
    {
        var gen = from experiment in ArbMap.Default.GeneratorFor<NonNull<string>>().Select(s => s.Get)
                  from received in ArbMap.Default.GeneratorFor<long>()
                  from payload in ArbMap.Default.GeneratorFor<byte[]>()
                  from sequence in ArbMap.Default.GeneratorFor<long>()
                  from json in ArbMap.Default.GeneratorFor<bool>()
                  select (new WalEntry(experiment, received, json ? WalPayloadFormat.Json : WalPayloadFormat.Protobuf, WalPayloadEncoding.Gzip, payload), sequence);
        Prop.ForAll(gen.ToArbitrary(), input =>
        {
            var (entry, sequence) = input;
            var buffer = new byte[WalFormat.RecordSize(entry)];
            var written = WalFormat.WriteRecord(buffer, sequence, entry);
            var body = buffer.AsMemory(WalFormat.RecordHeaderSize);
            var (readSequence, read) = WalFormat.ReadRecordBody(body);
            return written == buffer.Length
                && WalFormat.Crc32C(body.Span) == BitConverter.ToUInt32(buffer, 4)
                && readSequence == sequence
                && read.ExperimentId == Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(entry.ExperimentId))
                && read.ReceivedUnixMs == entry.ReceivedUnixMs
                && read.Format == entry.Format
                && read.Encoding == entry.Encoding
                && read.Payload.Span.SequenceEqual(entry.Payload.Span);
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(300));
    }

    [Fact]
    public void Segment_header_round_trips_and_damage_is_named()
    {
        var header = new byte[WalFormat.SegmentHeaderSize];
        WalFormat.WriteSegmentHeader(header, 42);
        Assert.Equal(42, WalFormat.ReadSegmentHeader(header, "s"));

        var badMagic = (byte[])header.Clone();
        badMagic[0] = (byte)'X';
        Assert.Contains("WAL magic", Assert.Throws<WalCorruptionException>(() => WalFormat.ReadSegmentHeader(badMagic, "s")).Message, StringComparison.Ordinal);

        var badCrc = (byte[])header.Clone();
        badCrc[17] ^= 1;
        Assert.Contains("header checksum", Assert.Throws<WalCorruptionException>(() => WalFormat.ReadSegmentHeader(badCrc, "s")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Segment_from_a_newer_incompatible_format_is_refused_with_both_versions()
    {
        var header = new byte[WalFormat.SegmentHeaderSize];
        WalFormat.WriteSegmentHeader(header, 1);
        header[8] = 3;
        header[10] = 2;
        BitConverter.GetBytes(WalFormat.Crc32C(header.AsSpan(0, 28))).CopyTo(header, 28);

        var error = Assert.Throws<WalCorruptionException>(() => WalFormat.ReadSegmentHeader(header, "wal-x.log"));

        Assert.Contains("format version 3, which needs a reader of version 2 or later; this build reads version 1", error.Message, StringComparison.Ordinal);
    }
}

public sealed class WalWriterTests
{
    private static WalEntry Entry(int i, int size = 200) =>
        new("exp-1", 1_763_700_000_000 + i, WalPayloadFormat.Protobuf, WalPayloadEncoding.Identity, Enumerable.Repeat((byte)(i % 251), size).ToArray());

    [Fact]
    public async Task Concurrent_appends_share_fsyncs_and_each_ack_follows_the_fsync_that_covers_it()
    {
        using var folder = new TempDirectory();
        var storage = new FaultInjectingWalStorage(new FileWalStorage(folder.Path));
        var writer = WalWriter.Open(storage, new WalOptions(), nextSequence: 1);
        var ackedAt = new System.Collections.Concurrent.ConcurrentDictionary<long, int>();

        const int Producers = 32, PerProducer = 40;
        await Task.WhenAll(Enumerable.Range(0, Producers).Select(p => Task.Run(async () =>
        {
            for (var i = 0; i < PerProducer; i++)
            {
                var sequence = await writer.AppendAsync(Entry((p * PerProducer) + i));
                ackedAt[sequence] = storage.LogLength;
            }
        })));
        await writer.DisposeAsync();

        var log = storage.Log;
        Assert.Equal(Producers * PerProducer, ackedAt.Count);
        Assert.Equal(Enumerable.Range(1, Producers * PerProducer).Select(i => (long)i), ackedAt.Keys.Order());
        foreach (var (sequence, logLength) in ackedAt)
        {
            var appendedAt = log.ToList().FindIndex(e => e.StartsWith("append", StringComparison.Ordinal) && e.Split(' ')[2].Split(',').Contains(sequence.ToString()));
            Assert.True(appendedAt >= 0, $"sequence {sequence} was never appended");
            // The covering fsync is one that began after the append (writes of the next batch overlap an fsync in
            // progress, which does not cover them); syncs never overlap each other, so the next "sync" ends it.
            var syncStartedAt = log.ToList().FindIndex(appendedAt + 1, e => e == "sync-start");
            var syncedAt = syncStartedAt < 0 ? -1 : log.ToList().FindIndex(syncStartedAt + 1, e => e == "sync");
            Assert.True(syncedAt >= 0 && syncedAt < logLength, $"sequence {sequence} was acknowledged before an fsync covered it");
        }

        var recovered = WalRecovery.Scan(new FileWalStorage(folder.Path), (_, _) => { }, repairTornTail: false);
        Assert.Equal(Producers * PerProducer, recovered.Records);
        Assert.Null(recovered.TornTail);
    }

    [Fact]
    public async Task Appends_arriving_during_an_fsync_are_written_meanwhile_and_share_the_next_fsync()
    {
        using var folder = new TempDirectory();
        var storage = new FaultInjectingWalStorage(new FileWalStorage(folder.Path));
        var writer = WalWriter.Open(storage, new WalOptions(), nextSequence: 1);
        using var gate = new ManualResetEventSlim();
        storage.SyncGate = gate;

        var first = writer.AppendAsync(Entry(0));
        Assert.True(storage.SyncWaiting.Wait(TimeSpan.FromSeconds(30)), "the first fsync never started");
        var rest = Enumerable.Range(1, 99).Select(i => writer.AppendAsync(Entry(i))).ToList();

        // The writer does not wait for the fsync in progress: all 99 reach the file while it is held open.
        Assert.True(SpinWait.SpinUntil(() => storage.Log.Any(e => e.StartsWith("append", StringComparison.Ordinal) && e.Split(' ')[2].Split(',').Contains("100")), TimeSpan.FromSeconds(30)), "the queued appends were not written during the fsync");
        Assert.False(first.IsCompleted);
        Assert.DoesNotContain(rest, t => t.IsCompleted);
        var syncsBefore = storage.Syncs;
        gate.Set();
        await Task.WhenAll(rest.Append(first));

        // The fsync that was held acknowledges the first append only; one more covers all 99.
        Assert.Equal(2, storage.Syncs - syncsBefore);
        await writer.DisposeAsync();
    }

    [Fact]
    public async Task Failed_fsync_fails_unacknowledged_appends_and_stops_the_log()
    {
        using var folder = new TempDirectory();
        var storage = new FaultInjectingWalStorage(new FileWalStorage(folder.Path));
        var writer = WalWriter.Open(storage, new WalOptions(), nextSequence: 1);
        var first = await writer.AppendAsync(Entry(1));
        storage.FailNextSync = true;

        var failed = await Assert.ThrowsAsync<WalUnavailableException>(() => writer.AppendAsync(Entry(2)));
        var refused = await Assert.ThrowsAsync<WalUnavailableException>(() => writer.AppendAsync(Entry(3)));

        Assert.False(failed.Retryable);
        Assert.False(refused.Retryable);
        Assert.False(writer.IsHealthy);
        Assert.IsType<IOException>(writer.Failure);
        Assert.Equal(1, storage.Log.Count(e => e == "sync-failed"));
        await writer.DisposeAsync();
        var sequences = new List<long>();
        WalRecovery.Scan(new FileWalStorage(folder.Path), (s, _) => sequences.Add(s), repairTornTail: true);
        Assert.Contains(first, sequences);
    }

    [Fact]
    public async Task Short_write_stops_the_log_and_recovery_cuts_the_torn_record()
    {
        using var folder = new TempDirectory();
        var storage = new FaultInjectingWalStorage(new FileWalStorage(folder.Path));
        var writer = WalWriter.Open(storage, new WalOptions(), nextSequence: 1);
        await writer.AppendAsync(Entry(1));
        await writer.AppendAsync(Entry(2));
        storage.ShortWriteBytes = 50;

        await Assert.ThrowsAsync<WalUnavailableException>(() => writer.AppendAsync(Entry(3)));
        Assert.False(writer.IsHealthy);
        await writer.DisposeAsync();

        var sequences = new List<long>();
        var result = WalRecovery.Scan(new FileWalStorage(folder.Path), (s, _) => sequences.Add(s), repairTornTail: true);
        Assert.Equal([1L, 2L], sequences);
        Assert.NotNull(result.TornTail);
        Assert.Equal(50, result.TornTail!.DroppedBytes);
        Assert.Equal(3, result.NextSequence);
        Assert.Null(WalRecovery.Scan(new FileWalStorage(folder.Path), (_, _) => { }, repairTornTail: false).TornTail);
    }

    [Fact]
    public async Task Full_disk_fails_retryably_damages_nothing_and_recovers_when_space_returns()
    {
        using var folder = new TempDirectory();
        var storage = new FaultInjectingWalStorage(new FileWalStorage(folder.Path));
        var writer = WalWriter.Open(storage, new WalOptions(), nextSequence: 1);
        await writer.AppendAsync(Entry(1));
        storage.DiskFull = true;

        var full = await Assert.ThrowsAsync<WalUnavailableException>(() => writer.AppendAsync(Entry(2)));
        Assert.True(full.Retryable);
        Assert.True(writer.IsHealthy);

        storage.DiskFull = false;
        Assert.Equal(2, await writer.AppendAsync(Entry(3)));
        Assert.Equal(3, await writer.AppendAsync(Entry(4)));
        await writer.DisposeAsync();

        var payloads = new List<byte>();
        var result = WalRecovery.Scan(new FileWalStorage(folder.Path), (_, e) => payloads.Add(e.Payload.Span[0]), repairTornTail: false);
        Assert.Null(result.TornTail);
        Assert.Equal([1, 3, 4], payloads);
    }

    [Fact]
    public async Task Segments_roll_over_and_recovery_reads_across_them_in_order()
    {
        using var folder = new TempDirectory();
        var storage = new FileWalStorage(folder.Path);
        var writer = WalWriter.Open(storage, new WalOptions { SegmentBytes = 1 << 20 }, nextSequence: 1);
        for (var i = 1; i <= 60; i++)
        {
            await writer.AppendAsync(Entry(i, size: 64 * 1024));
        }

        await writer.DisposeAsync();

        var sequences = new List<long>();
        var result = WalRecovery.Scan(storage, (s, _) => sequences.Add(s), repairTornTail: false);
        Assert.True(result.Segments.Count >= 3, $"{result.Segments.Count} segments");
        Assert.Equal(Enumerable.Range(1, 60).Select(i => (long)i), sequences);

        var reopened = WalWriter.Open(storage, new WalOptions(), result.NextSequence);
        Assert.Equal(61, await reopened.AppendAsync(Entry(61)));
        await reopened.DisposeAsync();
    }

    [Fact]
    public async Task Checkpoint_deletes_only_segments_wholly_below_the_needed_sequence_and_never_the_active_one()
    {
        using var folder = new TempDirectory();
        var storage = new FileWalStorage(folder.Path);
        var writer = WalWriter.Open(storage, new WalOptions { SegmentBytes = 1 << 20 }, nextSequence: 1);
        for (var i = 1; i <= 60; i++)
        {
            await writer.AppendAsync(Entry(i, size: 64 * 1024));
        }

        var firsts = storage.List().Select(n => WalFormat.TryParseSegmentName(n, out var f) ? f : -1).Order().ToList();
        Assert.True(firsts.Count >= 3, $"{firsts.Count} segments");

        // A needed sequence inside the second segment frees the first only.
        Assert.Equal([WalFormat.SegmentName(1)], writer.Checkpoint(firsts[1] + 1));
        Assert.Empty(writer.Checkpoint(firsts[1] + 1));

        // Everything sealed: all but the segment being written go.
        var deleted = writer.Checkpoint(long.MaxValue);
        Assert.Equal(firsts.Count - 2, deleted.Count);
        Assert.Equal([WalFormat.SegmentName(firsts[^1])], storage.List());
        Assert.Equal(61, await writer.AppendAsync(Entry(61)));
        await writer.DisposeAsync();

        var sequences = new List<long>();
        var result = WalRecovery.Scan(storage, (s, _) => sequences.Add(s), repairTornTail: false);
        Assert.Equal(Enumerable.Range((int)firsts[^1], 62 - (int)firsts[^1]).Select(i => (long)i), sequences);
        Assert.Equal(62, result.NextSequence);
    }

    [Fact]
    public async Task Reopening_after_a_crash_right_after_rollover_continues_in_the_empty_segment()
    {
        // Found by the crash test: the process died after creating the next segment, before any record went in.
        using var folder = new TempDirectory();
        var storage = new FileWalStorage(folder.Path);
        var writer = WalWriter.Open(storage, new WalOptions(), nextSequence: 1);
        await writer.AppendAsync(Entry(1));
        await writer.AppendAsync(Entry(2));
        await writer.DisposeAsync();
        using (var empty = storage.Create(WalFormat.SegmentName(3)))
        {
            var header = new byte[WalFormat.SegmentHeaderSize];
            WalFormat.WriteSegmentHeader(header, 3);
            empty.Append(header);
        }

        var recovered = WalRecovery.Scan(storage, (_, _) => { }, repairTornTail: true);
        Assert.Equal(3, recovered.NextSequence);
        var reopened = WalWriter.Open(storage, new WalOptions(), recovered.NextSequence);
        Assert.Equal(3, await reopened.AppendAsync(Entry(3)));
        await reopened.DisposeAsync();

        var sequences = new List<long>();
        WalRecovery.Scan(storage, (s, _) => sequences.Add(s), repairTornTail: false);
        Assert.Equal([1L, 2L, 3L], sequences);
        Assert.Equal(2, storage.List().Count);
    }

    [Theory]
    [InlineData(WalDurability.Interval)]
    [InlineData(WalDurability.None)]
    public async Task Weaker_durability_modes_log_everything_they_acknowledge(WalDurability mode)
    {
        using var folder = new TempDirectory();
        var writer = WalWriter.Open(new FileWalStorage(folder.Path), new WalOptions { Durability = mode, SyncInterval = TimeSpan.FromMilliseconds(5) }, nextSequence: 1);
        await Task.WhenAll(Enumerable.Range(1, 200).Select(i => writer.AppendAsync(Entry(i))));
        await writer.DisposeAsync();

        Assert.Equal(200, WalRecovery.Scan(new FileWalStorage(folder.Path), (_, _) => { }, repairTornTail: false).Records);
    }
}

public sealed class WalRecoveryTests
{
    [Fact]
    public async Task Corrupt_record_in_the_middle_is_a_hard_error_naming_segment_and_offset()
    {
        using var folder = new TempDirectory();
        var writer = WalWriter.Open(new FileWalStorage(folder.Path), new WalOptions(), nextSequence: 1);
        for (var i = 0; i < 10; i++)
        {
            await writer.AppendAsync(new WalEntry("0", i, WalPayloadFormat.Json, WalPayloadEncoding.Identity, new byte[100]));
        }

        await writer.DisposeAsync();
        var path = Directory.GetFiles(folder.Path).Single();
        var bytes = File.ReadAllBytes(path);
        var recordSize = (bytes.Length - WalFormat.SegmentHeaderSize) / 10;
        var thirdRecord = WalFormat.SegmentHeaderSize + (2 * recordSize);
        bytes[thirdRecord + 40] ^= 0xFF;
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<WalCorruptionException>(() => WalRecovery.Scan(new FileWalStorage(folder.Path), (_, _) => { }, repairTornTail: true));

        Assert.Equal(Path.GetFileName(path), error.Segment);
        Assert.Equal(thirdRecord, error.Offset);
        Assert.Equal("the record checksum does not match", error.Detail);
    }

    [Fact]
    public void Empty_folder_recovers_to_sequence_one()
    {
        using var folder = new TempDirectory();

        var result = WalRecovery.Scan(new FileWalStorage(folder.Path), (_, _) => { }, repairTornTail: true);

        Assert.Equal((0L, 1L), (result.Records, result.NextSequence));
    }
}
