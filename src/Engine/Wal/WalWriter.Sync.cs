namespace TraceStore.Engine.Wal;

/// <summary>The fsync side of the pipeline: one syncer at a time, and the interval timer.</summary>
public sealed partial class WalWriter
{
    private List<Pending> _unsynced = [];
    private bool _syncerRunning;
    private Task _syncer = Task.CompletedTask;

    /// <summary>Queues a written batch for the next fsync, starting the syncer if it is idle; if the log stopped
    /// meanwhile, the batch fails here.</summary>
    private void HandToSyncer(List<Pending> batch)
    {
        lock (_gate)
        {
            if (_failure is not null)
            {
                Fail(batch, Stopped());
                return;
            }

            _unsynced.AddRange(batch);
            if (!_syncerRunning)
            {
                _syncerRunning = true;
                _syncer = Task.Run(SyncLoop);
            }
        }
    }

    /// <summary>Fsyncs until nothing written is waiting: each fsync covers every batch handed over before it began.</summary>
    private void SyncLoop()
    {
        var spare = new List<Pending>();
        while (true)
        {
            List<Pending> covered;
            lock (_gate)
            {
                if (_unsynced.Count == 0)
                {
                    _syncerRunning = false;
                    return;
                }

                covered = _unsynced;
                _unsynced = spare;
            }

            try
            {
                lock (_segmentLock)
                {
                    _segment.Sync();
                }

                var last = covered[^1].Sequence;
                if (last > Volatile.Read(ref _lastDurableSequence))
                {
                    Volatile.Write(ref _lastDurableSequence, last);
                }

                foreach (var pending in covered)
                {
                    pending.Completion.TrySetResult(pending.Sequence);
                }
            }
            catch (Exception e)
            {
                StopWith(e);
                Fail(covered, Stopped());
            }

            covered.Clear();
            spare = covered;
        }
    }

    private async Task SyncPeriodically()
    {
        using var timer = new PeriodicTimer(_options.SyncInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                if (Volatile.Read(ref _failure) is not null)
                {
                    return;
                }

                try
                {
                    lock (_segmentLock)
                    {
                        var written = Volatile.Read(ref _writtenUntilSequence);
                        _segment.Sync();
                        Volatile.Write(ref _lastDurableSequence, written);
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

    /// <summary>Stops the log: records the first failure and fails everything queued or written but not yet synced.</summary>
    private void StopWith(Exception e)
    {
        List<Pending> abandoned;
        lock (_gate)
        {
            _failure ??= e;
            abandoned = [.. _queue, .. _unsynced];
            _queue.Clear();
            _unsynced.Clear();
        }

        Fail(abandoned, Stopped());
    }
}
