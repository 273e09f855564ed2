using System.Buffers;

namespace TraceStore.Engine.Wal;

/// <summary>
/// Appends records to the write-ahead log with group commit: appends that arrive while a write+fsync is in progress
/// are batched into the next single write and single fsync, and each append is acknowledged (its task completes)
/// only when the durability mode says it is safe. Sequence numbers are assigned in append order and are contiguous.
/// <para>Failure rules. A failed fsync stops the log for good: everything not yet acknowledged fails, later appends
/// are refused and <see cref="IsHealthy"/> turns false. The page cache's state after a failed fsync is unknown, so
/// retrying it could report success for data that was dropped (PostgreSQL's fsync lesson). A full disk (ENOSPC)
/// fails only the batch it hit, with a retryable error: the partial write is truncated away so nothing durable is
/// damaged, and appends succeed again once space is freed. Any other write failure stops the log like a failed
/// fsync.</para>
/// </summary>
public sealed class WalWriter : IAsyncDisposable
{
    private const int Enospc = 28;

    private readonly IWalStorage _storage;
    private readonly WalOptions _options;
    private readonly object _gate = new();
    private readonly CancellationTokenSource _stopping = new();
    private List<Pending> _queue = [];
    private List<Pending> _spare = [];
    private bool _flusherRunning;
    private Task _flusher = Task.CompletedTask;
    private readonly Task _intervalSync = Task.CompletedTask;

    // Held while the segment is synced by the interval timer or replaced by a rollover, so neither sees a disposed file.
    private readonly object _segmentLock = new();
    private IWalFile _segment;
    private long _nextSequence;
    private long _writtenUntilSequence;
    private Exception? _failure;

    private WalWriter(IWalStorage storage, WalOptions options, IWalFile segment, long nextSequence)
    {
        _storage = storage;
        _options = options;
        _segment = segment;
        _nextSequence = nextSequence;
        _writtenUntilSequence = nextSequence - 1;
        LastDurableSequence = nextSequence - 1;
        if (options.Durability == WalDurability.Interval)
        {
            _intervalSync = Task.Run(SyncPeriodically);
        }
    }

    /// <summary>False once the log has stopped after an fsync or write failure (see the class remarks).</summary>
    public bool IsHealthy => Volatile.Read(ref _failure) is null;

    /// <summary>The failure that stopped the log, if it stopped.</summary>
    public Exception? Failure => Volatile.Read(ref _failure);

    /// <summary>Highest sequence known to be on disk.</summary>
    public long LastDurableSequence { get; private set; }

    /// <summary>
    /// Continues the log after recovery (<paramref name="nextSequence"/> comes from <see cref="WalRecovery.Scan"/>): in a
    /// new segment, or in the segment named for that sequence when a crash right after a rollover left it holding
    /// only its header.
    /// </summary>
    public static WalWriter Open(IWalStorage storage, WalOptions options, long nextSequence)
    {
        options.Validate();
        var name = WalFormat.SegmentName(nextSequence);
        var segment = storage.List().Contains(name) ? ReopenEmptySegment(storage, name) : CreateSegment(storage, nextSequence);
        return new WalWriter(storage, options, segment, nextSequence);
    }

    /// <summary>Appends <paramref name="entry"/>; the task completes with its sequence once acknowledged.</summary>
    public Task<long> AppendAsync(WalEntry entry)
    {
        var size = WalFormat.RecordSize(entry);
        var pending = new Pending(entry, size, new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously));
        lock (_gate)
        {
            if (_failure is not null)
            {
                return Task.FromException<long>(Stopped());
            }

            if (_stopping.IsCancellationRequested)
            {
                return Task.FromException<long>(new ObjectDisposedException(nameof(WalWriter), "The WAL is closed."));
            }

            pending.Sequence = _nextSequence++;
            _queue.Add(pending);
            if (!_flusherRunning)
            {
                _flusherRunning = true;
                _flusher = Task.Run(FlushLoop);
            }
        }

        return pending.Completion.Task;
    }

    /// <summary>Waits for queued appends, fsyncs, and closes the segment.</summary>
    public async ValueTask DisposeAsync()
    {
        Task flusher;
        lock (_gate)
        {
            _stopping.Cancel();
            flusher = _flusher;
        }

        await flusher.ConfigureAwait(false);
        await _intervalSync.ConfigureAwait(false);
        lock (_gate)
        {
            if (_failure is null)
            {
                try
                {
                    _segment.Sync();
                    LastDurableSequence = _writtenUntilSequence;
                }
                catch (IOException)
                {
                    // Closing after a failed final fsync: everything was acknowledged under the mode's own rules already.
                }
            }

            _segment.Dispose();
        }

        _stopping.Dispose();
    }

    private void FlushLoop()
    {
        while (true)
        {
            List<Pending> batch;
            lock (_gate)
            {
                if (_queue.Count == 0)
                {
                    _flusherRunning = false;
                    return;
                }

                batch = _queue;
                _queue = _spare;
            }

            WriteBatch(batch);
            batch.Clear();
            lock (_gate)
            {
                _spare = batch;
            }
        }
    }

    /// <summary>Writes a batch as one append (and one fsync in fsync mode), then settles every append in it.</summary>
    private void WriteBatch(List<Pending> batch)
    {
        if (Volatile.Read(ref _failure) is not null)
        {
            Fail(batch, Stopped());
            return;
        }

        var bytes = 0;
        foreach (var pending in batch)
        {
            bytes += pending.Size;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(bytes);
        long lengthBefore = -1;
        try
        {
            var offset = 0;
            foreach (var pending in batch)
            {
                offset += WalFormat.WriteRecord(buffer.AsSpan(offset), pending.Sequence, pending.Entry);
            }

            RollOverIfFull(batch[0].Sequence, bytes);
            lengthBefore = _segment.Length;
            _segment.Append(buffer.AsSpan(0, bytes));
            var last = batch[^1].Sequence;
            _writtenUntilSequence = last;
            if (_options.Durability == WalDurability.Fsync)
            {
                _segment.Sync();
                LastDurableSequence = last;
            }

            foreach (var pending in batch)
            {
                pending.Completion.TrySetResult(pending.Sequence);
            }
        }
        catch (Exception e) when (IsDiskFull(e) && lengthBefore >= 0 && TryTruncate(lengthBefore))
        {
            // Nothing of this batch is acknowledged; the file is back to its last good length.
            _writtenUntilSequence = batch[0].Sequence - 1;
            Fail(batch, new WalUnavailableException("The disk is full: the request was not logged. Retry after space is freed.", retryable: true, e));
            RenumberAfterFailedBatch(batch);
        }
        catch (Exception e)
        {
            StopWith(e);
            Fail(batch, Stopped());
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void RollOverIfFull(long firstSequence, int batchBytes)
    {
        if (_segment.Length + batchBytes <= _options.SegmentBytes || _segment.Length <= WalFormat.SegmentHeaderSize)
        {
            return;
        }

        lock (_segmentLock)
        {
            _segment.Sync();
            LastDurableSequence = _writtenUntilSequence;
            _segment.Dispose();
            _segment = CreateSegment(_storage, firstSequence);
        }
    }

    private static IWalFile ReopenEmptySegment(IWalStorage storage, string name)
    {
        var segment = storage.OpenWrite(name);
        if (segment.Length != WalFormat.SegmentHeaderSize)
        {
            var length = segment.Length;
            segment.Dispose();
            throw new InvalidOperationException($"WAL segment {name} already holds {length - WalFormat.SegmentHeaderSize} bytes of records past the recovered end; open the log only after WalRecovery.Scan with repair.");
        }

        return segment;
    }

    private static IWalFile CreateSegment(IWalStorage storage, long firstSequence)
    {
        var segment = storage.Create(WalFormat.SegmentName(firstSequence));
        Span<byte> header = stackalloc byte[WalFormat.SegmentHeaderSize];
        WalFormat.WriteSegmentHeader(header, firstSequence);
        segment.Append(header);
        segment.Sync();
        storage.SyncDirectory();
        return segment;
    }

    /// <summary>
    /// Sequences must stay contiguous on disk. The failed batch held the sequences after everything written; hand
    /// them back, so the next append reuses them (appends queued meanwhile are renumbered to follow).
    /// </summary>
    private void RenumberAfterFailedBatch(List<Pending> batch)
    {
        lock (_gate)
        {
            _nextSequence = batch[0].Sequence;
            foreach (var pending in _queue)
            {
                pending.Sequence = _nextSequence++;
            }
        }
    }

    private bool TryTruncate(long length)
    {
        try
        {
            _segment.Truncate(length);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private async Task SyncPeriodically()
    {
        using var timer = new PeriodicTimer(_options.SyncInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                lock (_gate)
                {
                    if (_failure is not null)
                    {
                        return;
                    }
                }

                try
                {
                    lock (_segmentLock)
                    {
                        var written = Volatile.Read(ref _writtenUntilSequence);
                        _segment.Sync();
                        LastDurableSequence = written;
                    }
                }
                catch (Exception e)
                {
                    StopWith(e);
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Closing.
        }
    }

    private void StopWith(Exception e)
    {
        List<Pending> queued;
        lock (_gate)
        {
            _failure ??= e;
            queued = [.. _queue];
            _queue.Clear();
        }

        Fail(queued, Stopped());
    }

    private WalUnavailableException Stopped() =>
        new("The write-ahead log stopped after a storage failure and accepts no more writes; the store is unhealthy until restarted.", retryable: false, _failure);

    private static void Fail(List<Pending> batch, Exception error)
    {
        foreach (var pending in batch)
        {
            pending.Completion.TrySetException(error);
        }
    }

    private static bool IsDiskFull(Exception e) =>
        e is IOException io && (io.HResult == Enospc || io.HResult == unchecked((int)0x80070070) || io.Message.Contains("No space left", StringComparison.Ordinal));

    private sealed class Pending(WalEntry entry, int size, TaskCompletionSource<long> completion)
    {
        public WalEntry Entry => entry;

        public int Size => size;

        public TaskCompletionSource<long> Completion => completion;

        public long Sequence { get; set; }
    }
}
