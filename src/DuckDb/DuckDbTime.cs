namespace TraceStore.DuckDb;

/// <summary>DuckDB TIMESTAMP values are microseconds since 1970-01-01 00:00:00 UTC.</summary>
internal static class DuckDbTime
{
    /// <summary>DATE values are days since 1970-01-01; this is that day's <see cref="DateOnly.DayNumber"/>.</summary>
    public const int UnixEpochDayNumber = 719_162;

    /// <summary>Truncates to whole microseconds; Local times are converted to UTC, Unspecified ones are taken as UTC.</summary>
    public static long ToUnixMicros(DateTime value)
    {
        var utc = value.Kind == DateTimeKind.Local ? value.ToUniversalTime() : value;
        return (utc.Ticks - DateTime.UnixEpoch.Ticks) / 10;
    }

    public static DateTime FromUnixMicros(long microseconds) =>
        new(DateTime.UnixEpoch.Ticks + (microseconds * 10), DateTimeKind.Utc);
}
