using System.Globalization;

namespace TraceStore.DuckDb;

/// <summary>Start-up configuration of a DuckDB database. Null means DuckDB's default.</summary>
internal sealed record DuckDbDatabaseOptions
{
    /// <summary>Worker threads for query execution (DuckDB's default: one per core). At least 1.</summary>
    public int? Threads { get; init; }

    /// <summary>DuckDB's buffer-manager limit in bytes (default: 80% of RAM). At least 1 MiB.</summary>
    public long? MemoryLimitBytes { get; init; }

    /// <summary>Open a file-backed database read-only (several processes may then share it).</summary>
    public bool ReadOnly { get; init; }

    /// <summary>Further <c>duckdb_set_config</c> options by DuckDB's own names, applied after the typed ones.</summary>
    public IReadOnlyDictionary<string, string>? Settings { get; init; }

    internal IEnumerable<KeyValuePair<string, string>> ToConfig()
    {
        if (Threads is { } threads)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1, nameof(Threads));
            yield return new("threads", threads.ToString(CultureInfo.InvariantCulture));
        }

        if (MemoryLimitBytes is { } limit)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1L << 20, nameof(MemoryLimitBytes));
            yield return new("memory_limit", (limit / 1024).ToString(CultureInfo.InvariantCulture) + "KiB");
        }

        if (ReadOnly)
        {
            yield return new("access_mode", "READ_ONLY");
        }

        foreach (var setting in Settings ?? new Dictionary<string, string>())
        {
            yield return setting;
        }
    }
}
