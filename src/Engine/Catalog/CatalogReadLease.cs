namespace TraceStore.Engine.Catalog;

/// <summary>
/// Held by anyone who reads segment files the catalog named (<see cref="SegmentCatalog.AcquireReadLease"/>): while it
/// is held, no folder that was still listed when it was taken is deleted, and no deleted trace's record is purged, so
/// a reader never finds its files gone and a seal in progress never brings back a trace that was dropped under it.
/// Taking and releasing one is a lock and a counter, cheap enough for every get. Dispose releases it (idempotent).
/// </summary>
public sealed class CatalogReadLease : IDisposable
{
    private readonly ReadLeases _owner;
    private int _released;

    internal CatalogReadLease(ReadLeases owner, long version)
    {
        _owner = owner;
        Version = version;
    }

    /// <summary>How many segment replacements the catalog had committed when the lease was taken.</summary>
    public long Version { get; }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            _owner.Release(Version);
        }
    }
}

/// <summary>
/// The catalog's replacement count and the leases taken against it. A replacement (compaction, a dropped segment)
/// increments the count after its transaction commits; a lease records the count when it is taken, before its holder
/// asks the catalog anything. So a lease of version v may have seen every folder still listed at v, and a folder retired
/// by replacement r (version r after it) may be deleted once every lease has version ≥ r.
/// </summary>
internal sealed class ReadLeases
{
    private readonly object _gate = new();
    private readonly SortedDictionary<long, int> _active = [];
    private long _version;

    /// <summary>Replacements committed so far.</summary>
    public long Version => Interlocked.Read(ref _version);

    /// <summary>The version of the oldest lease held, or <see cref="long.MaxValue"/> when none is.</summary>
    public long Oldest
    {
        get
        {
            lock (_gate)
            {
                return _active.Count == 0 ? long.MaxValue : _active.Keys.First();
            }
        }
    }

    public CatalogReadLease Acquire()
    {
        lock (_gate)
        {
            var version = Interlocked.Read(ref _version);
            _active[version] = _active.GetValueOrDefault(version) + 1;
            return new CatalogReadLease(this, version);
        }
    }

    /// <summary>Called after a replacement's transaction committed; returns the new version.</summary>
    public long Advance() => Interlocked.Increment(ref _version);

    public void Release(long version)
    {
        lock (_gate)
        {
            if (_active.TryGetValue(version, out var count))
            {
                if (count <= 1)
                {
                    _active.Remove(version);
                }
                else
                {
                    _active[version] = count - 1;
                }
            }
        }
    }
}
