using System.Buffers.Binary;
using OpenTelemetry.Proto.Collector.Trace.V1;

namespace TraceStore.OtlpOracle;

/// <summary>
/// One producer's OTLP/protobuf request body, built once and made new again in place for every request:
/// <see cref="Renew"/> gives every trace and every span new ids (trace ids unique in the process, span ids random-looking,
/// parent references following their span), so every request's spans are unique (and can be counted in the segments
/// afterwards) and compress like real ids, without the producer allocating per request. Load harnesses are the client;
/// their memory and time must not be mistaken for the store's.
/// <para>Not thread-safe: one producer owns it, and renews it only after the store answered (the store reads a body
/// only until its ingest task completes).</para>
/// </summary>
public sealed class RenewableRequest
{
    private static long s_nextTrace;
    private static long s_nextSpan;
    private readonly int[] _traceIdOffsets;
    private readonly int[] _spanIdOffsets;
    private readonly int _distinctSpanIds;

    public RenewableRequest(byte[] body)
    {
        Body = body;
        var request = ExportTraceServiceRequest.Parser.ParseFrom(Body);
        var spans = request.ResourceSpans.SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans).ToList();
        Spans = spans.Count;
        // Invalid ids (empty or all zero: refused per span) stay as they are.
        var traceIds = spans.Select(s => s.TraceId).Where(IsValidId).Distinct().ToList();

        Traces = traceIds.Count;
        _traceIdOffsets = Occurrences(traceIds);
        var spanIds = spans.Select(s => s.SpanId).Where(IsValidId).Distinct().ToList();
        _distinctSpanIds = spanIds.Count;
        _spanIdOffsets = Occurrences(spanIds);
        Renew();
    }

    public byte[] Body { get; }

    public int Spans { get; }

    public int Traces { get; }

    /// <summary>Gives every trace of the body a trace id no request of this process had before, and every span a new
    /// random-looking id (the ids of a 64-bit mixing function over a process-wide counter: distinct, never zero).</summary>
    public void Renew()
    {
        var trace = Interlocked.Add(ref s_nextTrace, Traces) - Traces + 1;
        foreach (var offset in _traceIdOffsets)
        {
            if (offset < 0)
            {
                trace++;
                continue;
            }

            // High half: the mixed counter (distinct for distinct counters); low half: the counter (unique and non-zero).
            BinaryPrimitives.WriteUInt64BigEndian(Body.AsSpan(offset, 8), Mix((ulong)trace));
            BinaryPrimitives.WriteInt64BigEndian(Body.AsSpan(offset + 8, 8), trace);
        }

        var span = Interlocked.Add(ref s_nextSpan, _distinctSpanIds) - _distinctSpanIds + 1;
        foreach (var offset in _spanIdOffsets)
        {
            if (offset < 0)
            {
                span++;
                continue;
            }

            BinaryPrimitives.WriteUInt64BigEndian(Body.AsSpan(offset, 8), NonZero(Mix((ulong)span)));
        }
    }

    /// <summary>The offsets of every occurrence of each id in the body (random bytes: a chance match elsewhere is out of
    /// the question), each id's list ended by -1, so one renewal writes the same new id wherever an id appears (a span
    /// id is also its children's parent id). One pass over the body, looking each 8-byte window up among the ids'
    /// first 8 bytes: searching the body once per id took minutes for the benchmarks' bodies (thousands of ids in
    /// about a megabyte each). Ids shorter than 8 bytes (malformed on purpose) are searched for one by one.</summary>
    private int[] Occurrences(List<Google.Protobuf.ByteString> ids)
    {
        var found = new List<int>[ids.Count];
        var byPrefix = new Dictionary<ulong, List<int>>(ids.Count);
        var body = Body.AsSpan();
        for (var id = 0; id < ids.Count; id++)
        {
            found[id] = [];
            var bytes = ids[id].Span;
            if (bytes.Length >= sizeof(ulong))
            {
                var prefix = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
                if (!byPrefix.TryGetValue(prefix, out var sharing))
                {
                    byPrefix[prefix] = sharing = [];
                }

                sharing.Add(id);
                continue;
            }

            for (var at = body.IndexOf(bytes); at >= 0;)
            {
                found[id].Add(at);
                var next = body[(at + 1)..].IndexOf(bytes);
                at = next < 0 ? -1 : at + 1 + next;
            }
        }

        // The ids' first 3 bytes as a bitmap (2 MiB): nearly every window of the body fails this test, without a
        // dictionary lookup.
        var firstBytes = new ulong[1 << 18];
        foreach (var prefix in byPrefix.Keys)
        {
            var key = (int)(prefix & 0xFF_FFFF);
            firstBytes[key >> 6] |= 1UL << (key & 63);
        }

        for (var at = 0; at + sizeof(ulong) <= body.Length; at++)
        {
            var key = body[at] | (body[at + 1] << 8) | (body[at + 2] << 16);
            if ((firstBytes[key >> 6] & (1UL << (key & 63))) != 0
                && byPrefix.TryGetValue(BinaryPrimitives.ReadUInt64LittleEndian(body[at..]), out var candidates))
            {
                foreach (var id in candidates)
                {
                    if (body[at..].StartsWith(ids[id].Span))
                    {
                        found[id].Add(at);
                    }
                }
            }
        }

        var offsets = new List<int>();
        foreach (var list in found)
        {
            offsets.AddRange(list);
            offsets.Add(-1);
        }

        return [.. offsets];
    }

    private static bool IsValidId(Google.Protobuf.ByteString id) => id.Length > 0 && id.Span.IndexOfAnyExcept((byte)0) >= 0;

    /// <summary>SplitMix64's finalizer: a bijection on 64-bit values that scatters consecutive counters.</summary>
    private static ulong Mix(ulong x)
    {
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    private static ulong NonZero(ulong id) => id == 0 ? 1 : id;
}
