namespace TraceStore.Engine.Wal;

/// <summary>
/// Appends records to the write-ahead log with pipelined group commit. Appends queue up; one writer takes everything
/// queued and writes it (records packed into a fixed buffer, large payloads written from where they lie), then hands
/// the batch to one syncer and goes straight on to the next batch. The syncer fsyncs and acknowledges everything
/// written before its fsync began. So the write of batch N+1 overlaps the fsync of batch N, and every append is
/// acknowledged (its task completes) only when the durability mode says it is safe. Sequence numbers are assigned in
/// append order and are contiguous.
/// <para>Failure rules. A failed fsync stops the log for good: everything not yet acknowledged fails, later appends
/// are refused and <see cref="IsHealthy"/> turns false. The page cache's state after a failed fsync is unknown, so
/// retrying it could report success for data that was dropped (PostgreSQL's fsync lesson). A full disk (ENOSPC)
/// fails only the batch it hit, with a retryable error: the partial write is truncated away so nothing durable is
/// damaged, and appends succeed again once space is freed. Any other write failure stops the log like a failed
/// fsync.</para>
/// <para>Memory: besides the queued entries (whose payloads the caller owns and counts), the writer holds one
/// <see cref="WriteBufferBytes"/> buffer.</para>
/// </summary>
public sealed partial class WalWriter : IAsyncDisposable
{
    /// <summary>Records are packed into a buffer of this size before each write; a payload larger than the room left is
    /// written directly from the caller's memory.</summary>
    public const int WriteBufferBytes = 1 << 20;

    private const int Enospc = 28;

    private readonly IWalStorage _storage;
    private readonly WalOptions _options;
    private readonly byte[] _writeBuffer = new byte[WriteBufferBytes];

    // _gate guards the queue, the written-but-unsynced list, the running flags and _failure's first assignment.
    private readonly object _gate = new();
    private readonly CancellationTokenSource _stopping = new();
    private List<Pending> _queue = [];
    private List<Pending> _spare = [];
    private bool _writerRunning;
    private Task _writer = Task.CompletedTask;
    private readonly Task _intervalSync = Task.CompletedTask;

    // Held while the segment is synced or replaced by a rollover, so no fsync ever sees a disposed file.
    private readonly object _segmentLock = new();
    private IWalFile _segment;
    private long _nextSequence;
    private long _writtenUntilSequence;
    private long _lastDurableSequence;
    private Exception? _failure;

    private WalWriter(IWalStorage storage, WalOptions options, IWalFile segment, long nextSequence)
    {
        _storage = storage;
        _options = options;
        _segment = segment;
        _nextSequence = nextSequence;
        _writtenUntilSequence = nextSequence - 1;
        _lastDurableSequence = nextSequence - 1;
        if (options.Durability == WalDurability.Interval)
        {
            _intervalSync = Task.Run(SyncPeriodically);
        }
    }

    /// <summary>False once the log has stopped after an fsync or write failure (see the class remarks).</summary>
    public bool IsHealthy => Volatile.Read(ref _failure) is null;

    /// <summary>The failure that stopped the log, if it stopped.</summary>
    public Exception? Failure => Volatile.Read(ref _failure);

    /// <summary>The sequence the next append will get (a lower bound for any append not yet made).</summary>
    public long NextSequence
    {
        get
        {
            lock (_gate)
            {
                return _nextSequence;
            }
        }
    }

    /// <summary>Highest sequence known to be on disk.</summary>
    public long LastDurableSequence => Volatile.Read(ref _lastDurableSequence);

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

    /// <summary>Appends <paramref name="entry"/>; the task completes with its sequence once acknowledged. The entry's
    /// payload must not change until then.</summary>
    public Task<long> AppendAsync(WalEntry entry)
    {
        var pending = new Pending(entry, WalFormat.RecordSize(entry));
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
            if (!_writerRunning)
            {
                _writerRunning = true;
                _writer = Task.Run(WriteLoop);
            }
        }

        return pending.Completion.Task;
    }

    /// <summary>
    /// Deletes the segments whose every record has a sequence below <paramref name="lowestNeededSequence"/> (the lowest
    /// WAL position the assembler still needs: everything before it is in committed segments). The segment being
    /// written is never deleted. Returns the deleted segments' names. Recovery then starts at the oldest segment left.
    /// </summary>
    public IReadOnlyList<string> Checkpoint(long lowestNeededSequence)
    {
        var deleted = new List<string>();
        lock (_segmentLock)
        {
            var segments = _storage.List()
                .Select(name => WalFormat.TryParseSegmentName(name, out var first) ? (Name: name, First: first) : (Name: name, First: -1L))
                .Where(s => s.First >= 0)
                .OrderBy(s => s.First)
                .ToList();
            for (var i = 0; i + 1 < segments.Count; i++)
            {
                // Segment i holds sequences [First_i, First_{i+1}); the active segment is always the last.
                if (segments[i + 1].First > lowestNeededSequence || segments[i].Name == _segment.Name)
                {
                    break;
                }

                _storage.Delete(segments[i].Name);
                deleted.Add(segments[i].Name);
            }

            if (deleted.Count > 0)
            {
                _storage.SyncDirectory();
            }
        }

        return deleted;
    }

    /// <summary>Waits for queued appends and their fsyncs, fsyncs once more, and closes the segment.</summary>
    public async ValueTask DisposeAsync()
    {
        Task writer;
        lock (_gate)
        {
            _stopping.Cancel();
            writer = _writer;
        }

        await writer.ConfigureAwait(false);
        Task syncer;
        lock (_gate)
        {
            syncer = _syncer;
        }

        await syncer.ConfigureAwait(false);
        await _intervalSync.ConfigureAwait(false);
        lock (_segmentLock)
        {
            if (Volatile.Read(ref _failure) is null)
            {
                try
                {
                    _segment.Sync();
                    Volatile.Write(ref _lastDurableSequence, _writtenUntilSequence);
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

    private void WriteLoop()
    {
        while (true)
        {
            List<Pending> batch;
            lock (_gate)
            {
                if (_queue.Count == 0)
                {
                    _writerRunning = false;
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

    /// <summary>Writes a batch, then hands it to the syncer (fsync mode) or acknowledges it (the other modes). A failed
    /// write fails the batch here.</summary>
    private void WriteBatch(List<Pending> batch)
    {
        if (Volatile.Read(ref _failure) is not null)
        {
            Fail(batch, Stopped());
            return;
        }

        long bytes = 0;
        foreach (var pending in batch)
        {
            bytes += pending.Size;
        }

        long lengthBefore = -1;
        try
        {
            RollOverIfFull(batch[0].Sequence, bytes);
            lengthBefore = _segment.Length;
            WriteRecords(batch);
            Volatile.Write(ref _writtenUntilSequence, batch[^1].Sequence);
        }
        catch (Exception e) when (IsDiskFull(e) && lengthBefore >= 0 && TryTruncate(lengthBefore))
        {
            // Nothing of this batch is acknowledged; the file is back to its last good length.
            Volatile.Write(ref _writtenUntilSequence, batch[0].Sequence - 1);
            Fail(batch, new WalUnavailableException("The disk is full: the request was not logged. Retry after space is freed.", retryable: true, e));
            RenumberAfterFailedBatch(batch);
            return;
        }
        catch (Exception e)
        {
            StopWith(e);
            Fail(batch, Stopped());
            return;
        }

        if (_options.Durability == WalDurability.Fsync)
        {
            HandToSyncer(batch);
            return;
        }

        foreach (var pending in batch)
        {
            pending.Completion.TrySetResult(pending.Sequence);
        }
    }

    /// <summary>Packs records into the write buffer, writing it out whenever the next record does not fit; a payload
    /// larger than the room left goes to the file straight from the entry.</summary>
    private void WriteRecords(List<Pending> batch)
    {
        var buffer = _writeBuffer.AsSpan();
        var used = 0;
        foreach (var pending in batch)
        {
            var entry = pending.Entry;
            var prefixSize = pending.Size - entry.Payload.Length;
            if (used + prefixSize > buffer.Length)
            {
                _segment.Append(buffer[..used]);
                used = 0;
            }

            used += WalFormat.WriteRecordPrefix(buffer[used..], pending.Sequence, entry);
            if (used + entry.Payload.Length <= buffer.Length)
            {
                entry.Payload.Span.CopyTo(buffer[used..]);
                used += entry.Payload.Length;
            }
            else
            {
                _segment.Append(buffer[..used]);
                used = 0;
                _segment.Append(entry.Payload.Span);
            }
        }

        if (used > 0)
        {
            _segment.Append(buffer[..used]);
        }
    }

    private void RollOverIfFull(long firstSequence, long batchBytes)
    {
        if (_segment.Length + batchBytes <= _options.SegmentBytes || _segment.Length <= WalFormat.SegmentHeaderSize)
        {
            return;
        }

        // The old segment is synced before the new one exists, so batches written to it and still waiting for the
        // syncer are durable whichever file the syncer syncs next.
        lock (_segmentLock)
        {
            _segment.Sync();
            Volatile.Write(ref _lastDurableSequence, Volatile.Read(ref _writtenUntilSequence));
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

    private sealed class Pending(WalEntry entry, int size)
    {
        public WalEntry Entry => entry;

        public int Size => size;

        public TaskCompletionSource<long> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public long Sequence { get; set; }
    }
}
