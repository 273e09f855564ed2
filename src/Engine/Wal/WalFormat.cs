using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace TraceStore.Engine.Wal;

/// <summary>How a logged request body is encoded, so replay can run the same decoder on it.</summary>
public enum WalPayloadFormat : byte
{
    Protobuf = 1,
    Json = 2,
}

/// <summary>The content encoding of a logged body (stored as received: compressed bodies stay compressed).</summary>
public enum WalPayloadEncoding : byte
{
    Identity = 0,
    Gzip = 1,
    Deflate = 2,
}

/// <summary>One logged request: a validated OTLP body as received, with what is needed to replay it.</summary>
public sealed record WalEntry(string ExperimentId, long ReceivedUnixMs, WalPayloadFormat Format, WalPayloadEncoding Encoding, ReadOnlyMemory<byte> Payload);

/// <summary>
/// The write-ahead log's on-disk format (version 1). A log is a series of segment files
/// <c>wal-&lt;first sequence, 20 digits&gt;.log</c>, each a header followed by records:
/// <code>
/// segment header (32 bytes, little-endian):
///   0  magic "TSWAL\r\n\x1a"        8 bytes   (the \r\n\x1a catches text-mode and truncation damage)
///   8  format version               u16       (1)
///  10  min compatible version       u16       (1)  readers refuse a file whose min compatible version they exceed
///  12  reserved                     u32       (0)
///  16  first sequence               u64       sequence number of the first record in this file
///  24  reserved                     u32       (0)
///  28  crc32c of bytes 0..27        u32
/// record:
///   0  body length                  u32       bytes after this 8-byte record header
///   4  crc32c of the body           u32
///   8  body: sequence u64 | received unix ms i64 | format u8 | encoding u8 | experiment id length u16
///            | experiment id (UTF-8) | payload (the rest)
/// </code>
/// A record is valid when its length fits the file and its CRC matches; a partial or damaged record can only
/// be a torn tail if nothing valid follows it.
/// </summary>
public static class WalFormat
{
    public const ushort Version = 1;
    public const ushort MinCompatibleVersion = 1;
    public const int SegmentHeaderSize = 32;
    public const int RecordHeaderSize = 8;
    public const int RecordFixedBodySize = 8 + 8 + 1 + 1 + 2;

    /// <summary>Largest body a record may have (the decoders cap requests at 64 MiB; allow headroom, refuse garbage lengths).</summary>
    public const int MaxRecordBodySize = 256 << 20;

    private static readonly byte[] Magic = "TSWAL\r\n\u001a"u8.ToArray();

    public static string SegmentName(long firstSequence) => $"wal-{firstSequence:D20}.log";

    public static bool TryParseSegmentName(string name, out long firstSequence)
    {
        firstSequence = 0;
        return name.Length == 28 && name.StartsWith("wal-", StringComparison.Ordinal) && name.EndsWith(".log", StringComparison.Ordinal)
            && long.TryParse(name.AsSpan(4, 20), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out firstSequence);
    }

    public static void WriteSegmentHeader(Span<byte> destination, long firstSequence)
    {
        destination[..SegmentHeaderSize].Clear();
        Magic.CopyTo(destination);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[8..], Version);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[10..], MinCompatibleVersion);
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], firstSequence);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[28..], Crc32C(destination[..28]));
    }

    /// <summary>Checks a segment header; throws <see cref="WalCorruptionException"/> saying what is wrong.</summary>
    public static long ReadSegmentHeader(ReadOnlySpan<byte> header, string segment)
    {
        if (header.Length < SegmentHeaderSize)
        {
            throw new WalCorruptionException(segment, 0, $"the file is {header.Length} bytes, shorter than the {SegmentHeaderSize}-byte segment header");
        }

        if (!header[..8].SequenceEqual(Magic))
        {
            throw new WalCorruptionException(segment, 0, "the file does not start with the WAL magic bytes: not a TraceStore WAL segment");
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(header[28..]) != Crc32C(header[..28]))
        {
            throw new WalCorruptionException(segment, 0, "the segment header checksum does not match");
        }

        var version = BinaryPrimitives.ReadUInt16LittleEndian(header[8..]);
        var minCompatible = BinaryPrimitives.ReadUInt16LittleEndian(header[10..]);
        if (minCompatible > Version)
        {
            throw new WalCorruptionException(segment, 8, $"the segment was written in format version {version}, which needs a reader of version {minCompatible} or later; this build reads version {Version}");
        }

        return BinaryPrimitives.ReadInt64LittleEndian(header[16..]);
    }

    public static int RecordSize(WalEntry entry) =>
        RecordHeaderSize + RecordFixedBodySize + Encoding.UTF8.GetByteCount(entry.ExperimentId) + entry.Payload.Length;

    /// <summary>Bytes of a record before its payload: the record header, the fixed body fields and the experiment id.</summary>
    public static int RecordPrefixSize(WalEntry entry) => RecordHeaderSize + RecordFixedBodySize + Encoding.UTF8.GetByteCount(entry.ExperimentId);

    /// <summary>Writes one record; returns its size. <paramref name="destination"/> must hold <see cref="RecordSize"/> bytes.</summary>
    public static int WriteRecord(Span<byte> destination, long sequence, WalEntry entry)
    {
        var prefix = WriteRecordPrefix(destination, sequence, entry);
        entry.Payload.Span.CopyTo(destination[prefix..]);
        return prefix + entry.Payload.Length;
    }

    /// <summary>
    /// Writes everything of a record except its payload (which must follow it directly in the file) and returns the
    /// prefix's size (<see cref="RecordPrefixSize"/>). The checksum in the prefix already covers the payload, so a
    /// large payload can be written from where it lies, without copying it next to its prefix first.
    /// </summary>
    public static int WriteRecordPrefix(Span<byte> destination, long sequence, WalEntry entry)
    {
        var experimentLength = Encoding.UTF8.GetByteCount(entry.ExperimentId);
        if (experimentLength > ushort.MaxValue)
        {
            throw new ArgumentException($"The experiment id is {experimentLength} bytes; at most {ushort.MaxValue} fit a WAL record.", nameof(entry));
        }

        var bodyLength = RecordFixedBodySize + experimentLength + entry.Payload.Length;
        if (bodyLength > MaxRecordBodySize)
        {
            throw new ArgumentException($"The record body is {bodyLength} bytes; at most {MaxRecordBodySize} fit a WAL record.", nameof(entry));
        }

        var fixedAndExperiment = destination.Slice(RecordHeaderSize, RecordFixedBodySize + experimentLength);
        BinaryPrimitives.WriteInt64LittleEndian(fixedAndExperiment, sequence);
        BinaryPrimitives.WriteInt64LittleEndian(fixedAndExperiment[8..], entry.ReceivedUnixMs);
        fixedAndExperiment[16] = (byte)entry.Format;
        fixedAndExperiment[17] = (byte)entry.Encoding;
        BinaryPrimitives.WriteUInt16LittleEndian(fixedAndExperiment[18..], (ushort)experimentLength);
        Encoding.UTF8.GetBytes(entry.ExperimentId, fixedAndExperiment[20..]);
        var crc = Crc32CUpdate(Crc32CUpdate(0xFFFFFFFFu, fixedAndExperiment), entry.Payload.Span);
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)bodyLength);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], ~crc);
        return RecordHeaderSize + fixedAndExperiment.Length;
    }

    /// <summary>Parses a record body whose CRC was verified.</summary>
    public static (long Sequence, WalEntry Entry) ReadRecordBody(ReadOnlyMemory<byte> body)
    {
        var span = body.Span;
        var experimentLength = BinaryPrimitives.ReadUInt16LittleEndian(span[18..]);
        if (RecordFixedBodySize + experimentLength > span.Length)
        {
            throw new InvalidDataException($"the experiment id length {experimentLength} overruns the {span.Length}-byte record");
        }

        var entry = new WalEntry(
            Encoding.UTF8.GetString(span.Slice(20, experimentLength)),
            BinaryPrimitives.ReadInt64LittleEndian(span[8..]),
            (WalPayloadFormat)span[16],
            (WalPayloadEncoding)span[17],
            body[(20 + experimentLength)..]);
        return (BinaryPrimitives.ReadInt64LittleEndian(span), entry);
    }

    /// <summary>CRC-32C (Castagnoli) with the usual init and final xor ("123456789" gives e3069283), hardware-accelerated.</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data) => ~Crc32CUpdate(0xFFFFFFFFu, data);

    /// <summary>Continues a CRC-32C over <paramref name="data"/> (no init or final xor: callers do those once).</summary>
    private static uint Crc32CUpdate(uint crc, ReadOnlySpan<byte> data)
    {
        var i = 0;
        for (; i + 8 <= data.Length; i += 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data[i..]));
        }

        for (; i < data.Length; i++)
        {
            crc = BitOperations.Crc32C(crc, data[i]);
        }

        return crc;
    }
}

/// <summary>A WAL segment that cannot be read as written: names the segment and the byte offset.</summary>
public sealed class WalCorruptionException : Exception
{
    public WalCorruptionException()
    {
        Segment = "";
    }

    public WalCorruptionException(string message)
        : base(message)
    {
        Segment = "";
    }

    public WalCorruptionException(string message, Exception innerException)
        : base(message, innerException)
    {
        Segment = "";
    }

    public WalCorruptionException(string segment, long offset, string detail)
        : base($"WAL segment {segment} is corrupt at byte {offset}: {detail}")
    {
        Segment = segment;
        Offset = offset;
        Detail = detail;
    }

    public string Segment { get; }

    public long Offset { get; }

    public string Detail { get; } = "";
}
