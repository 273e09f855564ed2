using System.Buffers;
using TraceStore.Protocol.Content;

namespace TraceStore.Testing;

/// <summary>Builds multi-segment <see cref="ReadOnlySequence{T}"/>s, to exercise decoders' segment-straddling paths.</summary>
public static class Sequences
{
    /// <summary>Splits <paramref name="bytes"/> at the given cut positions (each segment is its own array).</summary>
    public static ReadOnlySequence<byte> Split(byte[] bytes, params int[] cuts)
    {
        var bounds = cuts.Where(c => c > 0 && c < bytes.Length).Distinct().Order().Append(bytes.Length).ToList();
        var blocks = new List<ReadOnlyMemory<byte>>();
        var start = 0;
        foreach (var end in bounds)
        {
            blocks.Add(bytes.AsMemory(start, end - start).ToArray());
            start = end;
        }

        return MemorySequence.Create(blocks);
    }

    /// <summary>One segment per <paramref name="size"/> bytes.</summary>
    public static ReadOnlySequence<byte> Chunked(byte[] bytes, int size) =>
        Split(bytes, Enumerable.Range(1, Math.Max(0, (bytes.Length - 1) / size)).Select(i => i * size).ToArray());
}
