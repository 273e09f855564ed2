using System.Buffers;
using TraceStore.Protocol.Content;

namespace TraceStore.Benchmarks.Infrastructure;

/// <summary>Multi-segment sequences, as a PipeReader hands request bodies over.</summary>
public static class Segments
{
    public static ReadOnlySequence<byte> Of(byte[] bytes, int segmentSize)
    {
        var blocks = new List<ReadOnlyMemory<byte>>();
        for (var start = 0; start < bytes.Length; start += segmentSize)
        {
            blocks.Add(bytes.AsMemory(start, Math.Min(segmentSize, bytes.Length - start)));
        }

        return MemorySequence.Create(blocks);
    }
}
