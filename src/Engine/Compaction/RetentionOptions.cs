namespace TraceStore.Engine.Compaction;

/// <summary>
/// How long and how much an experiment keeps. <see cref="MaxAge"/>: a trace whose request time (its
/// <c>timestamp_ms</c>, the start of its earliest span) is older than now − MaxAge is deleted; a trace exactly
/// MaxAge old stays. <see cref="MaxBytes"/>: while the experiment's bytes are above it, its oldest traces are
/// deleted (by request time, then trace id), so what stays is the longest run of newest traces within the cap. An
/// experiment's bytes are the segment bytes charged to its live traces: each segment's bytes on disk (all its files)
/// are split equally among the spans it stores, and a trace is charged for its spans in every segment that holds one
/// (a late part's repeated copies included, until compaction keeps one). Null: no limit.
/// </summary>
public sealed record RetentionPolicy(TimeSpan? MaxAge = null, long? MaxBytes = null)
{
    /// <summary>No limit: everything is kept.</summary>
    public static RetentionPolicy KeepForever { get; } = new();

    public bool Limits => MaxAge is not null || MaxBytes is not null;

    public RetentionPolicy Validate(string name)
    {
        if (MaxAge is { } age)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(age, TimeSpan.Zero, $"{name}.{nameof(MaxAge)}");
        }

        if (MaxBytes is { } bytes)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(bytes, $"{name}.{nameof(MaxBytes)}");
        }

        return this;
    }
}

/// <summary>
/// Retention per experiment: <see cref="Experiments"/> names a policy for some experiments (it replaces the default
/// whole, it is not merged with it), <see cref="Default"/> applies to every other one. Off by default (keep
/// everything). Applied by the maintenance loop each round (<see cref="CompactionOptions.Interval"/>) and by
/// <c>TraceStore.EnforceRetentionNow</c>: traces beyond a policy are marked deleted (reads stop seeing them at once),
/// segments left with no live trace are dropped whole, and compaction rewrites partly deleted ones. Sealed traces
/// only: traces still open in the assembler are not counted until sealed.
/// </summary>
public sealed record RetentionOptions
{
    public RetentionPolicy Default { get; init; } = RetentionPolicy.KeepForever;

    public IReadOnlyDictionary<string, RetentionPolicy> Experiments { get; init; } = new Dictionary<string, RetentionPolicy>(StringComparer.Ordinal);

    /// <summary>Whether any experiment can have a limit (otherwise a round skips retention entirely).</summary>
    public bool Enabled => Default.Limits || Experiments.Values.Any(p => p.Limits);

    public RetentionPolicy For(string experimentId) => Experiments.TryGetValue(experimentId, out var policy) ? policy : Default;

    public RetentionOptions Validate()
    {
        Default.Validate(nameof(Default));
        foreach (var (experiment, policy) in Experiments)
        {
            policy.Validate($"{nameof(Experiments)}[{experiment}]");
        }

        return this;
    }
}
