using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using TraceStore.Protocol.Model;
using TraceStore.Protocol.Otlp;

namespace TraceStore.Engine.Ingest;

/// <summary>
/// Reusable decoders and span batches, and the bound on how many requests decode at once. The bound matters for
/// memory: a decode holds a decompressed body and a growing batch that admission can only count once it is done, so
/// the most such uncounted memory is <see cref="MaxConcurrentDecodes"/> requests' worth. Batches outlive the decode
/// (they wait for the WAL ack and then go to the assembler); they are counted in the memory budget meanwhile.
/// </summary>
internal sealed class DecoderPool : IDisposable
{
    /// <summary>A batch that grew past this is dropped after use rather than kept: one huge request must not pin its
    /// buffers in the pool for the life of the process.</summary>
    private const long MaxPooledFootprintBytes = 4L << 20;

    private readonly ConcurrentBag<OtlpRequestDecoder> _decoders = [];
    private readonly ConcurrentBag<SpanBatch> _batches = [];
    private readonly SemaphoreSlim _slots;
    private readonly OtlpDecoderOptions _options;
    private int _idleBatches;

    public DecoderPool(OtlpDecoderOptions options, int maxConcurrentDecodes)
    {
        _options = options;
        MaxConcurrentDecodes = maxConcurrentDecodes;
        _slots = new SemaphoreSlim(maxConcurrentDecodes, maxConcurrentDecodes);
    }

    public int MaxConcurrentDecodes { get; }

    /// <summary>Waits for a decode slot. Return the decoder with <see cref="ReturnDecoder"/> as soon as decoding ends.</summary>
    public async ValueTask<OtlpRequestDecoder> RentDecoderAsync(CancellationToken cancellationToken)
    {
        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        return _decoders.TryTake(out var decoder) ? decoder : new OtlpRequestDecoder(_options);
    }

    public void ReturnDecoder(OtlpRequestDecoder decoder)
    {
        _decoders.Add(decoder);
        _slots.Release();
    }

    public SpanBatch RentBatch()
    {
        if (_batches.TryTake(out var batch))
        {
            Interlocked.Decrement(ref _idleBatches);
            return batch;
        }

        return new SpanBatch();
    }

    /// <summary>Keeps the batch for reuse unless it is large or enough are idle already (one per decode slot: idle
    /// batches keep their capacity outside the memory budget); either way it is emptied.</summary>
    public void ReturnBatch(SpanBatch batch)
    {
        var small = Footprint(batch) <= MaxPooledFootprintBytes;
        batch.Reset();
        if (!small)
        {
            return;
        }

        if (Interlocked.Increment(ref _idleBatches) <= MaxConcurrentDecodes)
        {
            _batches.Add(batch);
        }
        else
        {
            Interlocked.Decrement(ref _idleBatches);
        }
    }

    public void Dispose()
    {
        while (_decoders.TryTake(out var decoder))
        {
            decoder.Dispose();
        }

        _slots.Dispose();
    }

    /// <summary>Bytes a decoded batch occupies: its arena plus its records.</summary>
    public static long Footprint(SpanBatch batch) =>
        batch.Arena.Length
        + ((long)batch.Resources.Count * Unsafe.SizeOf<ResourceRecord>())
        + ((long)batch.Scopes.Count * Unsafe.SizeOf<ScopeRecord>())
        + ((long)batch.Spans.Count * Unsafe.SizeOf<SpanRecord>())
        + ((long)batch.Events.Count * Unsafe.SizeOf<EventRecord>())
        + ((long)batch.Links.Count * Unsafe.SizeOf<LinkRecord>())
        + ((long)batch.KeyValues.Count * Unsafe.SizeOf<KeyValueRecord>())
        + ((long)batch.ArrayValues.Count * Unsafe.SizeOf<AnyValueRecord>());
}
