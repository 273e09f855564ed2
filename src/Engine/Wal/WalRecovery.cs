using System.Buffers;
using System.Buffers.Binary;

namespace TraceStore.Engine.Wal;

/// <summary>What a recovery scan found.</summary>
public sealed record WalRecoveryResult(long Records, long Bytes, long NextSequence, IReadOnlyList<string> Segments, WalTornTail? TornTail);

/// <summary>A partial or damaged last record, cut off (or, for a report-only scan, to be cut off) at <see cref="Offset"/>.</summary>
public sealed record WalTornTail(string Segment, long Offset, long DroppedBytes, string Reason);

/// <summary>
/// Reads the log back at open: segments in sequence order, every record checked (length, CRC32C, contiguous
/// sequence numbers), one record at a time through a pooled buffer so a log larger than memory replays within a
/// small bound. A partial or damaged record at the very end of the last segment is a torn write from a crash:
/// it is truncated (when <c>repair</c> is set) and reported. Damage anywhere else is corruption of data that was
/// acknowledged: <see cref="WalCorruptionException"/> names the segment and byte offset.
/// </summary>
public static class WalRecovery
{
    private const int ReadBufferBytes = 1 << 20;

    /// <param name="onRecord">Called for each record in order; the entry's payload is only valid during the call.</param>
    /// <param name="repairTornTail">Truncate a torn tail (what opening the store does); false only reports it.</param>
    public static WalRecoveryResult Scan(IWalStorage storage, Action<long, WalEntry> onRecord, bool repairTornTail)
    {
        var segments = storage.List()
            .Select(name => WalFormat.TryParseSegmentName(name, out var first) ? (name, first) : (name, -1L))
            .ToList();
        if (segments.FirstOrDefault(s => s.Item2 < 0) is { name: not null } stray)
        {
            throw new WalCorruptionException(stray.name, 0, "the file name is not wal-<20-digit first sequence>.log");
        }

        segments.Sort((a, b) => a.Item2.CompareTo(b.Item2));
        long records = 0, bytes = 0, expected = -1;
        WalTornTail? torn = null;
        var buffer = ArrayPool<byte>.Shared.Rent(ReadBufferBytes);
        try
        {
            for (var i = 0; i < segments.Count; i++)
            {
                var (name, first) = segments[i];
                var isLast = i == segments.Count - 1;
                using var file = isLast && repairTornTail ? storage.OpenWrite(name) : storage.OpenRead(name);
                var header = new byte[WalFormat.SegmentHeaderSize];
                var headerRead = file.Read(0, header);
                if (isLast && headerRead < WalFormat.SegmentHeaderSize)
                {
                    // A crash while creating the segment: nothing in it was ever acknowledged.
                    torn = new WalTornTail(name, 0, file.Length, "the segment header is incomplete");
                    if (repairTornTail)
                    {
                        file.Dispose();
                        storage.Delete(name);
                    }

                    break;
                }

                var firstInHeader = WalFormat.ReadSegmentHeader(header.AsSpan(0, headerRead), name);
                if (firstInHeader != first)
                {
                    throw new WalCorruptionException(name, 16, $"the header says the first sequence is {firstInHeader}, the file name says {first}");
                }

                if (expected >= 0 && first != expected)
                {
                    throw new WalCorruptionException(name, 0, $"sequence {expected} is missing: this segment starts at {first}");
                }

                expected = first;
                var offset = (long)WalFormat.SegmentHeaderSize;
                while (offset < file.Length)
                {
                    var problem = ReadRecord(file, offset, ref buffer, out var body, out var size);
                    if (problem is not null)
                    {
                        var isTail = isLast && (size < 0 || offset + size >= file.Length);
                        if (!isTail)
                        {
                            throw new WalCorruptionException(name, offset, problem);
                        }

                        torn = new WalTornTail(name, offset, file.Length - offset, problem);
                        if (repairTornTail)
                        {
                            file.Truncate(offset);
                            file.Sync();
                        }

                        break;
                    }

                    var (sequence, entry) = WalFormat.ReadRecordBody(body);
                    if (sequence != expected)
                    {
                        throw new WalCorruptionException(name, offset, $"record has sequence {sequence}, expected {expected}");
                    }

                    onRecord(sequence, entry);
                    records++;
                    bytes += size;
                    expected++;
                    offset += size;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        var next = expected >= 0 ? expected : 1;
        return new WalRecoveryResult(records, bytes, next, segments.Select(s => s.name).ToList(), torn);
    }

    /// <summary>Reads and checks the record at <paramref name="offset"/>. Returns null when it is good, else what is wrong
    /// (<paramref name="size"/> is then the size its header claims, or -1 when even the header is incomplete).</summary>
    private static string? ReadRecord(IWalFile file, long offset, ref byte[] buffer, out ReadOnlyMemory<byte> body, out long size)
    {
        body = default;
        size = -1;
        Span<byte> header = stackalloc byte[WalFormat.RecordHeaderSize];
        if (file.Read(offset, header) < WalFormat.RecordHeaderSize)
        {
            return "the record header is incomplete";
        }

        var length = BinaryPrimitives.ReadUInt32LittleEndian(header);
        var crc = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        if (length < WalFormat.RecordFixedBodySize || length > WalFormat.MaxRecordBodySize)
        {
            return $"the record length {length} is impossible";
        }

        size = WalFormat.RecordHeaderSize + length;
        if (offset + size > file.Length)
        {
            return $"the record claims {length} bytes but the file ends {file.Length - offset - WalFormat.RecordHeaderSize} bytes later";
        }

        if (buffer.Length < length)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = ArrayPool<byte>.Shared.Rent((int)length);
        }

        var read = file.Read(offset + WalFormat.RecordHeaderSize, buffer.AsSpan(0, (int)length));
        if (read < length)
        {
            return "the record body is incomplete";
        }

        if (WalFormat.Crc32C(buffer.AsSpan(0, (int)length)) != crc)
        {
            return "the record checksum does not match";
        }

        body = buffer.AsMemory(0, (int)length);
        return null;
    }
}
