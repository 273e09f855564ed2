using System.Buffers;

namespace TraceStore.Benchmarks.Infrastructure;

/// <summary>Multi-segment sequences, as a PipeReader hands request bodies over.</summary>
public static class Segments
{
    public static ReadOnlySequence<byte> Of(byte[] bytes, int segmentSize)
    {
        Segment? first = null, last = null;
        for (var start = 0; start < bytes.Length; start += segmentSize)
        {
            var memory = bytes.AsMemory(start, Math.Min(segmentSize, bytes.Length - start));
            last = last is null ? first = new Segment(memory, 0) : last.Append(memory);
        }

        return first is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
