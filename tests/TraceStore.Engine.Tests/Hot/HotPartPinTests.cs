using TraceStore.Engine.Assembly;
using TraceStore.Engine.Segments;
using TraceStore.Engine.Tests.Assembly;
using TraceStore.Testing;
using static TraceStore.Engine.Tests.Assembly.OtlpTrace;

namespace TraceStore.Engine.Tests.Hot;

/// <summary>
/// The hot index pins the parts it hands to a reader, so the sealer's release of a committed part never lends its
/// arrays to the next part (<see cref="PartArrayPool"/>) while a read still holds it; a part lent before a reader could
/// pin it is left out of the read (it is committed: the catalog has it). Real assembler, sealer, writer and catalog;
/// parts of 5,000 spans, large enough for the pool.
/// </summary>
public sealed class HotPartPinTests : IDisposable
{
    private const int PartSpans = 5_000;

    private readonly ManualTime _time = new();
    private readonly SealingPipeline _pipeline;

    public HotPartPinTests() => _pipeline = new SealingPipeline("hot-pins", 256L << 20, new AssemblerOptions { MaxSpansPerPart = PartSpans }, new SealerOptions { SegmentTargetSpans = 1 }, _time);

    public void Dispose() => _pipeline.Dispose();

    [Fact]
    public void A_part_a_hot_read_holds_is_not_lent_to_the_next_part_until_the_read_is_disposed()
    {
        IngestPart(firstSpan: 2, tag: "first");
        var found = _pipeline.Hot.Find(Key.TraceId)!;
        var read = found.Read();
        Assert.Equal(1, _pipeline.Sealer.SealNow());
        Assert.Single(_pipeline.Catalog.SegmentsHolding(Key.TraceId.ToMlflowId()));
        Assert.Equal(0, _pipeline.Assembler.Pool.Count);

        // The next part gets arrays of its own; what the read holds is unchanged.
        IngestPart(firstSpan: 2 + PartSpans, tag: "second");
        AssertNames(read, firstSpan: 2, tag: "first");

        found.Dispose();
        Assert.Throws<ObjectDisposedException>(() => found.Read());
        Assert.Equal(1, _pipeline.Sealer.SealNow());
        Assert.Equal(1, _pipeline.Assembler.Pool.Count);
        IngestPart(firstSpan: 2 + (2 * PartSpans), tag: "third");
        Assert.Equal(0, _pipeline.Assembler.Pool.Count);
        using var third = _pipeline.Hot.Find(Key.TraceId)!;
        AssertNames(third.Read(), firstSpan: 2 + (2 * PartSpans), tag: "third");
    }

    [Fact]
    public void A_part_committed_and_lent_before_the_reader_pinned_it_is_left_to_the_catalog()
    {
        IngestPart(firstSpan: 2, tag: "first");
        _pipeline.Hot.AfterAssemblerRead = () => Assert.Equal(1, _pipeline.Sealer.SealNow());

        // Seen in the assembler, then committed and released (its arrays kept for the next part) before the pin.
        Assert.Null(_pipeline.Hot.Find(Key.TraceId));
        Assert.Equal(1, _pipeline.Assembler.Pool.Count);
        Assert.Single(_pipeline.Catalog.SegmentsHolding(Key.TraceId.ToMlflowId()));
    }

    [Fact]
    public async Task Hot_reads_running_beside_sealing_and_reuse_only_ever_see_whole_spans_of_one_part()
    {
        using var stop = new CancellationTokenSource();
        var reads = 0L;
        var reader = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                foreach (var trace in _pipeline.Hot.Snapshot())
                {
                    using (trace)
                    {
                        AssertWholeSpans(trace.Read());
                        Interlocked.Increment(ref reads);
                    }
                }
            }
        });

        try
        {
            for (var part = 0; part < 12; part++)
            {
                IngestPart(firstSpan: 2 + (part * PartSpans), tag: $"p{part}");

                // At least one whole read of the trace with this part in it before the seal starts, so every part's
                // seal and reuse run beside reads whatever the machine's load (the reader may also be slower).
                var before = Interlocked.Read(ref reads);
                Assert.True(SpinWait.SpinUntil(() => Interlocked.Read(ref reads) > before + 1 || reader.IsCompleted, TimeSpan.FromSeconds(60)), "the reader made no progress");
                Assert.False(reader.IsFaulted, reader.Exception?.ToString());
                _pipeline.Sealer.SealNow();
            }
        }
        finally
        {
            await stop.CancelAsync();
            await reader;
        }

        Assert.True(Interlocked.Read(ref reads) >= 24);
        Assert.Equal(12, _pipeline.Catalog.Segments().Count);
    }

    private void IngestPart(int firstSpan, string tag)
    {
        var spans = Enumerable.Range(firstSpan, PartSpans).Select(id => Span((ulong)id, 1, $"{tag}-{id}", attributes: ("k", $"{tag}:{id}"))).ToArray();
        _pipeline.Assembler.Add(DecodedBatches.Decode(Request("svc", spans)), ExperimentId, walSequence: firstSpan);
    }

    /// <summary>Every span of <paramref name="buffer"/> as it was stored: its id, name and attribute agree, and no id
    /// is there twice (a part refilled under a reader would show another part's records or bytes).</summary>
    private static void AssertWholeSpans(TraceBuffer buffer)
    {
        var ids = new HashSet<ulong>();
        for (var i = 0; i < buffer.Spans.Count; i++)
        {
            ref readonly var span = ref buffer.Spans[i];
            var name = buffer.GetString(span.Name);
            var dash = name.LastIndexOf('-');
            var (tag, id) = (name[..dash], int.Parse(name[(dash + 1)..], System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(SpanIdOf(id), span.SpanId);
            Assert.Equal($"\"{tag}:{id}\"", buffer.GetString(buffer.Attributes.Slice(span.Attributes)[0].Value));
            Assert.True(ids.Add(span.SpanId.Value), $"span {id} twice");
        }
    }

    private static Protocol.Model.SpanId SpanIdOf(int id)
    {
        var bytes = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(bytes, (ulong)id);
        return Protocol.Model.SpanId.FromBytes(bytes);
    }

    private static void AssertNames(TraceBuffer part, int firstSpan, string tag)
    {
        Assert.Equal(PartSpans, part.Spans.Count);
        for (var i = 0; i < PartSpans; i++)
        {
            Assert.Equal($"{tag}-{firstSpan + i}", part.GetString(part.Spans[i].Name));
            Assert.Equal($"\"{tag}:{firstSpan + i}\"", part.GetString(part.Attributes.Slice(part.Spans[i].Attributes)[0].Value));
        }
    }
}
