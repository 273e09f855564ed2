namespace TraceStore.Engine.Wal;

/// <summary>When an append is acknowledged, and so what a crash can lose.</summary>
public enum WalDurability
{
    /// <summary>Acknowledged after the fsync that covers it (group commit). A crash loses nothing acknowledged.</summary>
    Fsync,

    /// <summary>Acknowledged after the write; fsynced every <see cref="WalOptions.SyncInterval"/>. An OS crash or power
    /// loss can lose up to one interval of acknowledged data; a process crash loses nothing (the page cache survives).</summary>
    Interval,

    /// <summary>Acknowledged after the write; never fsynced except at rollover and close. An OS crash or power loss can lose
    /// everything not yet written back by the kernel (typically the last 30 s); a process crash loses nothing.</summary>
    None,
}

/// <summary>Write-ahead log settings. Immutable; checked by <see cref="Validate"/>.</summary>
public sealed record WalOptions
{
    /// <summary>Bytes after which a segment is closed and a new one started (a single batch may overshoot). At least 1 MiB.</summary>
    public long SegmentBytes { get; init; } = 64L << 20;

    public WalDurability Durability { get; init; } = WalDurability.Fsync;

    /// <summary>For <see cref="WalDurability.Interval"/>: time between fsyncs. 1 ms to 10 s.</summary>
    public TimeSpan SyncInterval { get; init; } = TimeSpan.FromMilliseconds(50);

    public WalOptions Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(SegmentBytes, 1L << 20, nameof(SegmentBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(SyncInterval, TimeSpan.FromMilliseconds(1), nameof(SyncInterval));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(SyncInterval, TimeSpan.FromSeconds(10), nameof(SyncInterval));
        return this;
    }
}

/// <summary>The WAL cannot take the append. <see cref="Retryable"/> says whether the client may try again later.</summary>
public sealed class WalUnavailableException : Exception
{
    public WalUnavailableException()
    {
    }

    public WalUnavailableException(string message)
        : base(message)
    {
    }

    public WalUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public WalUnavailableException(string message, bool retryable, Exception? innerException)
        : base(message, innerException)
    {
        Retryable = retryable;
    }

    /// <summary>True for a full disk (space may be freed); false once the WAL has stopped after an fsync or write failure.</summary>
    public bool Retryable { get; }
}
