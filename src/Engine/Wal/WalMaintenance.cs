namespace TraceStore.Engine.Wal;

/// <summary>What <see cref="WalMaintenance.Verify"/> found.</summary>
public sealed record WalVerification(WalRecoveryResult? Result, WalCorruptionException? Corruption, IReadOnlyList<string> Quarantined);

/// <summary>
/// Offline checks of a WAL folder (<c>tracestore verify</c>). Verification reads every record and changes nothing.
/// Repair, which the operator asks for explicitly, cuts a torn tail and quarantines corruption: the bytes from the
/// corrupt record to the end of its segment, and every later segment (their sequences would no longer follow
/// on), move to <c>quarantine/</c> beside the log, kept for inspection, never deleted.
/// </summary>
public static class WalMaintenance
{
    public const string QuarantineFolder = "quarantine";

    public static WalVerification Verify(string folder, bool repair)
    {
        var storage = new FileWalStorage(folder);
        try
        {
            return new WalVerification(WalRecovery.Scan(storage, (_, _) => { }, repairTornTail: repair), null, []);
        }
        catch (WalCorruptionException corruption) when (repair)
        {
            var quarantined = Quarantine(storage, corruption);
            return new WalVerification(WalRecovery.Scan(storage, (_, _) => { }, repairTornTail: true), corruption, quarantined);
        }
        catch (WalCorruptionException corruption)
        {
            return new WalVerification(null, corruption, []);
        }
    }

    private static List<string> Quarantine(FileWalStorage storage, WalCorruptionException corruption)
    {
        var quarantine = Path.Combine(storage.Folder, QuarantineFolder);
        Directory.CreateDirectory(quarantine);
        var moved = new List<string>();
        var damagedFirst = WalFormat.TryParseSegmentName(corruption.Segment, out var first) ? first : long.MinValue;
        var source = Path.Combine(storage.Folder, corruption.Segment);
        var keep = Math.Max(corruption.Offset, 0);
        if (keep <= WalFormat.SegmentHeaderSize)
        {
            var target = Path.Combine(quarantine, corruption.Segment);
            File.Move(source, target, overwrite: false);
            moved.Add(target);
        }
        else
        {
            var target = Path.Combine(quarantine, $"{corruption.Segment}.from-{keep}");
            using (var input = new FileStream(source, FileMode.Open, FileAccess.ReadWrite))
            using (var output = new FileStream(target, FileMode.CreateNew, FileAccess.Write))
            {
                input.Position = keep;
                input.CopyTo(output);
                output.Flush(flushToDisk: true);
                input.SetLength(keep);
                input.Flush(flushToDisk: true);
            }

            moved.Add(target);
        }

        foreach (var name in storage.List().Order(StringComparer.Ordinal))
        {
            if (WalFormat.TryParseSegmentName(name, out var later) && later > damagedFirst)
            {
                var target = Path.Combine(quarantine, name);
                File.Move(Path.Combine(storage.Folder, name), target, overwrite: false);
                moved.Add(target);
            }
        }

        return moved;
    }
}
