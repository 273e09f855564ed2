using System.Buffers;
using Microsoft.Extensions.Logging.Abstractions;
using TraceStore.Engine.Admission;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Segments;
using TraceStore.Protocol.Content;
using TraceStore.Protocol.Model;
using TraceStore.Protocol.Otlp;

namespace TraceStore.Server.Cli;

/// <summary>
/// Committed segments made for a compaction or retention benchmark: <c>count</c> segments of about
/// <c>bufferBytes</c> of trace buffers each (whole requests until the next would pass it, so at least one request:
/// a <c>bufferBytes</c> below one request's makes segments of one request each), written
/// by a real assembler, <see cref="Sealer"/> and <see cref="SegmentCatalog"/> into a new store folder, from
/// <see cref="BenchRequests"/> (distinct requests with new ids, so segments do not repeat content and no span is a
/// duplicate). Every trace goes to experiment "0". Building them is not timed.
/// </summary>
internal static class SegmentPile
{
    public const string Experiment = "0";

    /// <summary>Writes the segments and returns the open catalog (the caller disposes it). A folder left there by an
    /// earlier run (the benchmark's own subfolders of <c>--data</c>) is replaced.</summary>
    public static SegmentCatalog Build(string folder, BenchRequests requests, int count, long bufferBytes)
    {
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }

        Directory.CreateDirectory(folder);
        var budget = new MemoryBudget(64L << 30);
        var assembler = new SpanAssembler(new AssemblerOptions(), budget);
        var catalog = SegmentCatalog.Open(folder);
        using var writer = new SegmentWriter(catalog.SegmentsFolder, new SegmentWriterOptions());
        var sealer = new Sealer(assembler, budget, writer, catalog, () => { }, new SealerOptions { MaxSegmentBufferBytes = Math.Max(bufferBytes, new SealerOptions().MaxSegmentBufferBytes), SegmentTargetSpans = int.MaxValue }, NullLogger.Instance);
        try
        {
            using var decoder = new OtlpRequestDecoder();
            var batch = new SpanBatch();
            long walSequence = 0;
            for (var segment = 0; segment < count; segment++)
            {
                // Requests until the next one would pass the buffer size: one segment per SealNow.
                long grown = 0, perRequest = 0;
                while (grown == 0 || grown + perRequest <= bufferBytes)
                {
                    decoder.Decode(new ReadOnlySequence<byte>(requests.Next().Body), OtlpPayloadFormat.Protobuf, OtlpContentEncoding.Identity, batch);
                    perRequest = assembler.Add(batch, Experiment, ++walSequence).GrownBytes;
                    grown += perRequest;
                }

                sealer.SealNow(everything: true);
                if (sealer.LastError is { } error)
                {
                    throw new InvalidOperationException($"Sealing the benchmark's segments failed: {error.Message}", error);
                }
            }
        }
        catch
        {
            catalog.Dispose();
            throw;
        }
        finally
        {
            sealer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        return catalog;
    }
}
