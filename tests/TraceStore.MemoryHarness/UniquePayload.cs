using System.Buffers.Binary;
using OpenTelemetry.Proto.Collector.Trace.V1;
using TraceStore.OtlpOracle;

namespace TraceStore.MemoryHarness;

/// <summary>
/// One producer's request body, built once (before the memory baseline) and made new again in place for every request:
/// <see cref="Renew"/> writes a fresh 64-bit number into the low half of each of its trace ids, so every request's spans
/// are unique (and can be counted in the segments afterwards) without the harness allocating per request. The harness
/// is the client here; its memory must not be mistaken for the store's.
/// <para>Not thread-safe: one producer owns it, and renews it only after the store answered (the store reads a body
/// only until its ingest task completes).</para>
/// </summary>
internal sealed class UniquePayload
{
    private static long s_nextTrace;
    private readonly int[] _traceIdOffsets;

    public UniquePayload(int spans, int valueBytes, int seed, int spansPerTrace)
    {
        Body = OtlpTestRequests.Protobuf(spans, valueBytes, seed: seed, spansPerTrace: spansPerTrace);
        var request = ExportTraceServiceRequest.Parser.ParseFrom(Body);
        var traceIds = request.ResourceSpans.SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans).Select(s => s.TraceId).Distinct().ToList();

        // Every occurrence of each trace id (16 random bytes: a chance match elsewhere is out of the question), grouped
        // by trace so one renewal gives all spans of a trace the same new id.
        Traces = traceIds.Count;
        var offsets = new List<int>();
        foreach (var id in traceIds)
        {
            var bytes = id.Span;
            for (var at = Body.AsSpan().IndexOf(bytes); at >= 0;)
            {
                offsets.Add(at);
                var next = Body.AsSpan(at + 1).IndexOf(bytes);
                at = next < 0 ? -1 : at + 1 + next;
            }

            offsets.Add(-1);
        }

        _traceIdOffsets = [.. offsets];
        Renew();
    }

    public byte[] Body { get; }

    public int Traces { get; }

    /// <summary>Gives every trace of the body a trace id no request of this process had before.</summary>
    public void Renew()
    {
        var id = Interlocked.Add(ref s_nextTrace, Traces) - Traces;
        foreach (var offset in _traceIdOffsets)
        {
            if (offset < 0)
            {
                id++;
                continue;
            }

            BinaryPrimitives.WriteInt64BigEndian(Body.AsSpan(offset + 8, 8), id + 1);
        }
    }
}
