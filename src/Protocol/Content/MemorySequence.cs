using System.Buffers;

namespace TraceStore.Protocol.Content;

/// <summary>Builds a <see cref="ReadOnlySequence{T}"/> over several memory blocks, as a pipe or a pooled buffer list holds them.</summary>
public static class MemorySequence
{
    public static ReadOnlySequence<byte> Create(IReadOnlyList<ReadOnlyMemory<byte>> blocks)
    {
        if (blocks.Count == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        if (blocks.Count == 1)
        {
            return new ReadOnlySequence<byte>(blocks[0]);
        }

        var first = new Segment(blocks[0], 0);
        var last = first;
        for (var i = 1; i < blocks.Count; i++)
        {
            last = last.Append(blocks[i]);
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
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
