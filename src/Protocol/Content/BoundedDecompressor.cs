using System.Buffers;
using System.IO.Compression;
using TraceStore.Protocol.Otlp;

namespace TraceStore.Protocol.Content;

/// <summary>
/// Decompresses a request body into pooled segments and refuses to produce more than a set number of bytes: a
/// gzip bomb fails as soon as its output passes the limit, having allocated at most the limit plus one segment.
/// The result is a multi-segment sequence the decoders read as is (never copied into one array).
/// </summary>
public static class BoundedDecompressor
{
    private const int SegmentBytes = 64 * 1024;

    /// <summary>Decompresses <paramref name="body"/>; the caller disposes the result to return its buffers.</summary>
    public static DecompressedBody Decompress(ReadOnlySequence<byte> body, OtlpContentEncoding encoding, long maxBytes)
    {
        if (encoding == OtlpContentEncoding.Identity)
        {
            return new DecompressedBody(body, []);
        }

        var name = encoding == OtlpContentEncoding.Gzip ? "gzip" : "deflate";
        var input = new SequenceStream(body);
        using var stream = Open(input, body, encoding);
        var segments = new List<byte[]>();
        long total = 0;
        try
        {
            while (true)
            {
                var segment = ArrayPool<byte>.Shared.Rent(SegmentBytes);
                segments.Add(segment);
                var filled = 0;
                while (filled < segment.Length)
                {
                    var read = stream.Read(segment, filled, segment.Length - filled);
                    if (read == 0)
                    {
                        break;
                    }

                    filled += read;
                    total += read;
                    if (total > maxBytes)
                    {
                        OtlpDecodeException.Throw(OtlpRejectReason.MessageTooLarge, $"the {name} body decompresses to more than the {maxBytes}-byte limit", input.Position);
                    }
                }

                if (filled < segment.Length)
                {
                    if (total == 0 && body.Length > 0)
                    {
                        OtlpDecodeException.Throw(OtlpRejectReason.InvalidCompression, $"the {name} body holds no compressed data", 0);
                    }

                    return new DecompressedBody(BuildSequence(segments, filled), segments);
                }
            }
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            // Corrupt input surfaces as InvalidDataException, or as ZLibException (an IOException) when zlib itself
            // fails; the input stream over the sequence never throws, so an IOException here is always the data.
            Return(segments);
            throw new OtlpDecodeException(OtlpRejectReason.InvalidCompression, $"Failed to decompress {name} payload: {e.Message}", input.Position, e);
        }
        catch
        {
            Return(segments);
            throw;
        }
    }

    private static Stream Open(Stream input, ReadOnlySequence<byte> body, OtlpContentEncoding encoding)
    {
        if (encoding == OtlpContentEncoding.Gzip)
        {
            return new GZipStream(input, CompressionMode.Decompress);
        }

        // zlib header (RFC 1950): CMF with method 8 and window <= 32K, and (CMF << 8 | FLG) divisible by 31.
        Span<byte> head = stackalloc byte[2];
        var isZlib = body.Length >= 2 && Zlib(head, body);
        return isZlib ? new ZLibStream(input, CompressionMode.Decompress) : new DeflateStream(input, CompressionMode.Decompress);
    }

    private static bool Zlib(Span<byte> head, ReadOnlySequence<byte> body)
    {
        body.Slice(0, 2).CopyTo(head);
        return (head[0] & 0x0F) == 8 && (head[0] >> 4) <= 7 && ((head[0] << 8) | head[1]) % 31 == 0;
    }

    private static ReadOnlySequence<byte> BuildSequence(List<byte[]> segments, int lastFilled)
    {
        var blocks = new ReadOnlyMemory<byte>[segments.Count];
        for (var i = 0; i < segments.Count; i++)
        {
            blocks[i] = segments[i].AsMemory(0, i == segments.Count - 1 ? lastFilled : SegmentBytes);
        }

        return MemorySequence.Create(blocks);
    }

    private static void Return(List<byte[]> segments)
    {
        foreach (var segment in segments)
        {
            ArrayPool<byte>.Shared.Return(segment);
        }

        segments.Clear();
    }

    /// <summary>A read-only stream over a sequence; <see cref="Position"/> is how much compressed input was taken.</summary>
    private sealed class SequenceStream(ReadOnlySequence<byte> sequence) : Stream
    {
        private readonly long _length = sequence.Length;
        private ReadOnlySequence<byte> _remaining = sequence;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => _length;

        public override long Position
        {
            get => _length - _remaining.Length;
            set => throw new NotSupportedException("The stream is read forward only.");
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var count = (int)Math.Min(buffer.Length, _remaining.Length);
            _remaining.Slice(0, count).CopyTo(buffer);
            _remaining = _remaining.Slice(count);
            return count;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("The stream is read forward only.");

        public override void SetLength(long value) => throw new NotSupportedException("The stream is read-only.");

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("The stream is read-only.");
    }
}

/// <summary>A decompressed body in pooled buffers; dispose to return them (the sequence is invalid afterwards).</summary>
public sealed class DecompressedBody : IDisposable
{
    private readonly List<byte[]> _segments;

    internal DecompressedBody(ReadOnlySequence<byte> data, List<byte[]> segments)
    {
        Data = data;
        _segments = segments;
    }

    public ReadOnlySequence<byte> Data { get; private set; }

    public void Dispose()
    {
        foreach (var segment in _segments)
        {
            ArrayPool<byte>.Shared.Return(segment);
        }

        _segments.Clear();
        Data = default;
    }
}
