using Microsoft.Extensions.Logging;
using TraceStore.DuckDb;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Segments;

namespace TraceStore.Engine.Compaction;

/// <summary>What one compaction pass did. <see cref="FoldersAwaitingReaders"/> replaced folders are still on disk
/// because a reader that began before their replacement still runs; a later pass (or the next open) deletes them.
/// <see cref="MergesDeferred"/>: a background round stopped before a rewrite or merge because ingest was short of
/// memory (what it did before that counts).</summary>
public sealed record CompactionResult(
    int SegmentsDropped,
    int SegmentsRewritten,
    int Merges,
    int SegmentsMerged,
    int FoldersDeleted,
    int FoldersAwaitingReaders,
    int DeletionsPurged,
    long BytesBefore,
    long BytesAfter,
    bool MergesDeferred = false);

/// <summary>
/// The store's maintenance loop: retention then compaction, every <see cref="CompactionOptions.Interval"/>, on its own
/// task with its own DuckDB (one database, one memory limit, a connection each for the compactor and retention), so ingest and the sealer never wait for it beyond the
/// catalog's short transactions. <see cref="CompactNow"/> and <see cref="EnforceRetentionNow"/> run a pass on the
/// caller's thread (tests, the CLI); passes never overlap. A pass that fails (a full disk) is logged and tried again
/// next round: nothing it had not committed is visible, and what it wrote is cleaned up.
/// <para>While ingest is short of memory (the budget counted a shortage since the previous check, made before each
/// rewrite or merge), a background round applies retention and drops dead segments but puts rewrites and merges off,
/// for at most <see cref="CompactionOptions.MaxMergeDeferral"/> since it first put one off; then it compacts anyway.
/// A merge that has begun runs to its end. <see cref="CompactNow"/> never puts anything off.</para>
/// </summary>
internal sealed class StoreMaintenance : IAsyncDisposable
{
    private readonly SegmentCatalog _catalog;
    private readonly CompactionOptions _options;
    private readonly RetentionOptions _retention;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Func<long> _shortages;
    private readonly DuckDbDatabase _database;
    private readonly SegmentCompactor _compactor;
    private readonly RetentionEnforcer _enforcer;
    private readonly object _pass = new();
    private readonly CancellationTokenSource _stopping = new();
    private Task _loop = Task.CompletedTask;
    private long _segmentsCompacted;
    private long _rounds;
    private long _roundsDeferred;
    private long _shortagesSeen;
    private DateTimeOffset? _deferringSince;
    private Exception? _lastError;

    /// <param name="shortages">The ingest budget's count of reservations that did not fit
    /// (<see cref="Admission.MemoryBudget.Shortages"/>); null: ingest is never short (merges are never put off).</param>
    public StoreMaintenance(SegmentCatalog catalog, CompactionOptions options, RetentionOptions retention, TimeProvider time, ILogger logger, Func<long>? shortages = null)
    {
        _catalog = catalog;
        _options = options.Validate();
        _retention = retention.Validate();
        _time = time;
        _logger = logger;
        _shortages = shortages ?? (static () => 0);
        _shortagesSeen = _shortages();
        _database = SegmentCompactor.OpenDatabase(options.MemoryLimitBytes, catalog);
        _compactor = new SegmentCompactor(catalog, _database);
        _enforcer = new RetentionEnforcer(catalog, retention, time, _database);
    }

    /// <summary>Segments removed by compaction since the store opened (merged into others, rewritten or dropped).</summary>
    public long SegmentsCompacted => Interlocked.Read(ref _segmentsCompacted);

    /// <summary>Background rounds finished since the store opened.</summary>
    public long Rounds => Interlocked.Read(ref _rounds);

    /// <summary>Background rounds that put merges off because ingest was short of memory.</summary>
    public long RoundsDeferred => Interlocked.Read(ref _roundsDeferred);

    /// <summary>The last background round's failure, until a round succeeds again.</summary>
    public Exception? LastError => Volatile.Read(ref _lastError);

    internal SegmentCompactor Compactor => _compactor;

    /// <summary>Starts the background loop unless <see cref="CompactionOptions.RunInBackground"/> is off.</summary>
    public void Start()
    {
        if (_options.RunInBackground)
        {
            _loop = Task.Run(RunAsync);
        }
    }

    public CompactionResult CompactNow()
    {
        lock (_pass)
        {
            return Compact();
        }
    }

    /// <summary>Marks what is beyond the retention policies deleted and drops the segments left without a live trace
    /// (no rewriting: compaction reclaims partly deleted segments).</summary>
    public RetentionResult EnforceRetentionNow()
    {
        lock (_pass)
        {
            return EnforceRetention();
        }
    }

    public long ExperimentBytes(string experimentId)
    {
        lock (_pass)
        {
            return _enforcer.ExperimentBytes(experimentId);
        }
    }

    /// <summary>Stops the loop, waiting for a pass in progress to finish.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        lock (_pass)
        {
            try
            {
                _catalog.DeleteRetiredFolders();
            }
            catch (IOException)
            {
                // Left for the next open, which removes every retired folder.
            }

            _compactor.Dispose();
            _enforcer.Dispose();
            _database.Dispose();
        }

        _stopping.Dispose();
    }

    private async Task RunAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.Interval, _time, _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            try
            {
                RunRound();
                Volatile.Write(ref _lastError, null);
            }
#pragma warning disable CA1031 // A background pass must not end the loop: any failure is logged and the pass retried next round.
            catch (Exception e)
#pragma warning restore CA1031
            {
                Volatile.Write(ref _lastError, e);
                EngineLog.MaintenanceFailed(_logger, e.Message);
            }

            Interlocked.Increment(ref _rounds);
        }
    }

    /// <summary>One background round: retention, then compaction, which stops before any rewrite or merge while
    /// ingest is short of memory (<see cref="ShouldDeferMerges"/>). The loop calls it every
    /// <see cref="CompactionOptions.Interval"/>; tests call it to run rounds at chosen moments. Returns whether merges
    /// were put off.</summary>
    internal bool RunRound()
    {
        lock (_pass)
        {
            if (_retention.Enabled)
            {
                EnforceRetention();
            }

            var result = Compact(deferrable: true);
            if (result.MergesDeferred)
            {
                Interlocked.Increment(ref _roundsDeferred);
                var segments = _catalog.Segments().Count;
                EngineLog.MergesDeferred(_logger, segments, _options.MaxMergeDeferral.TotalSeconds);
            }

            return result.MergesDeferred;
        }
    }

    /// <summary>Whether a background round puts the next rewrite or merge off: ingest was short of memory since the
    /// previous check (made before each rewrite or merge, in this round or an earlier one; a round with nothing to
    /// merge checks nothing), and merges have not been put off for <see cref="CompactionOptions.MaxMergeDeferral"/>
    /// already.</summary>
    private bool ShouldDeferMerges()
    {
        var shortages = _shortages();
        var wasShort = shortages != _shortagesSeen;
        _shortagesSeen = shortages;
        var now = _time.GetUtcNow();
        if (!wasShort || _options.MaxMergeDeferral == TimeSpan.Zero || now - (_deferringSince ??= now) >= _options.MaxMergeDeferral)
        {
            _deferringSince = null;
            return false;
        }

        return true;
    }

    private RetentionResult EnforceRetention()
    {
        var (expired, overCap, bytes) = _enforcer.MarkBeyondPolicies();
        var dropped = DropDeadSegments(_catalog.DeletedShares());
        if (expired + overCap + dropped > 0)
        {
            EngineLog.RetentionApplied(_logger, expired, overCap, dropped);
        }

        return new RetentionResult(expired, overCap, dropped, bytes);
    }

    /// <param name="deferrable">A background round: stop before a rewrite or merge while ingest is short of memory.</param>
    private CompactionResult Compact(bool deferrable = false)
    {
        var before = _catalog.Segments().Sum(s => s.Bytes);
        var shares = _catalog.DeletedShares();
        var dropped = DropDeadSegments(shares);
        var rewritten = 0;
        var deferred = false;
        foreach (var (segment, indexed, deleted) in shares)
        {
            if (deleted < segment.Traces && indexed == segment.Traces && deleted >= _options.RewriteDeletedFraction * segment.Traces)
            {
                if (deferrable && ShouldDeferMerges())
                {
                    deferred = true;
                    break;
                }

                _compactor.Merge([segment]);
                rewritten++;
                Interlocked.Increment(ref _segmentsCompacted);
            }
        }

        int merges = 0, merged = 0;
        var limit = _catalog.Segments().Count;
        IReadOnlyList<SegmentInfo> Plan() => _compactor.Plan(_options.SmallSegmentBytes, _options.TargetSegmentBytes, _options.MaxMergeInputs);
        for (var plan = Plan(); !deferred && plan.Count > 0 && merges < limit; plan = Plan())
        {
            if (deferrable && ShouldDeferMerges())
            {
                deferred = true;
                break;
            }

            var output = _compactor.Merge(plan);
            merges++;
            merged += plan.Count;
            Interlocked.Add(ref _segmentsCompacted, plan.Count);
            var inputBytes = plan.Sum(s => s.Bytes);
            EngineLog.SegmentsMerged(_logger, plan.Count, inputBytes, output?.SealSequence ?? 0, output?.Bytes ?? 0);
        }

        var folders = _catalog.DeleteRetiredFolders().Count;
        var purged = _catalog.PurgeDeletedTraces((_time.GetUtcNow() - _options.DeletedTraceGracePeriod).ToUnixTimeMilliseconds());
        return new CompactionResult(dropped, rewritten, merges, merged, folders, _catalog.RetiredFoldersPending, purged, before, _catalog.Segments().Sum(s => s.Bytes), deferred);
    }

    /// <summary>Drops, without rewriting, the segments whose every trace is deleted (by the trace index; a segment the
    /// index does not fully cover is left to rewriting).</summary>
    private int DropDeadSegments(IReadOnlyList<(SegmentInfo Segment, long IndexedTraces, long DeletedTraces)> shares)
    {
        var dead = shares.Where(s => s.IndexedTraces == s.Segment.Traces && s.DeletedTraces == s.Segment.Traces).Select(s => s.Segment).ToList();
        if (dead.Count > 0)
        {
            _compactor.Drop(dead);
            Interlocked.Add(ref _segmentsCompacted, dead.Count);
        }

        return dead.Count;
    }
}
