namespace TraceStore.DuckDb;

/// <summary>
/// Quoting for the few places SQL text must carry a name or literal that DuckDB does not accept as a
/// parameter (COPY targets, ATTACH paths, identifiers). Only for values TraceStore generates itself:
/// user-supplied values always travel as prepared-statement parameters.
/// </summary>
internal static class DuckDbSql
{
    /// <summary>A single-quoted SQL string literal.</summary>
    public static string Literal(string value)
    {
        RejectNul(value);
        return "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";
    }

    /// <summary>A double-quoted identifier.</summary>
    public static string Identifier(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        RejectNul(name);
        return "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
    }

    private static void RejectNul(string value)
    {
        if (value.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("SQL text cannot carry a NUL character.", nameof(value));
        }
    }
}
