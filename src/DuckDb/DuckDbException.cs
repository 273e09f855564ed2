namespace TraceStore.DuckDb;

/// <summary>
/// Every failure DuckDB reports (open, prepare, bind, execute, fetch, append, table-function callbacks)
/// surfaces as this one type, carrying DuckDB's own message and, when there was one, the SQL that failed.
/// </summary>
public sealed class DuckDbException : Exception
{
    private const int MaxSqlInMessage = 500;

    public DuckDbException(string message)
        : this(message, sql: null)
    {
    }

    public DuckDbException(string message, Exception innerException)
        : base(message, innerException) => DuckDbMessage = message;

    public DuckDbException()
    {
    }

    /// <param name="duckDbMessage">DuckDB's message, possibly prefixed with what TraceStore was doing.</param>
    /// <param name="sql">The failing statement, if any.</param>
    /// <param name="errorType">DuckDB's error class; when the C API gives none, it is read from the message prefix.</param>
    internal DuckDbException(string duckDbMessage, string? sql, DuckDbErrorType? errorType = null)
        : base(Compose(duckDbMessage, sql))
    {
        DuckDbMessage = duckDbMessage;
        Sql = sql;
        ErrorType = errorType ?? Classify(duckDbMessage);
    }

    /// <summary>DuckDB's message as DuckDB worded it, e.g. "Parser Error: syntax error at or near ...".</summary>
    public string DuckDbMessage { get; } = "";

    /// <summary>The statement that failed, when the failure belongs to one.</summary>
    public string? Sql { get; }

    /// <summary>DuckDB's error class; <see cref="DuckDbErrorType.Invalid"/> where DuckDB gives none.</summary>
    public DuckDbErrorType ErrorType { get; }

    /// <summary>DuckDB words every error as "&lt;Class&gt; Error: ..."; prepare and pending errors carry no type code, so the
    /// class is read from that prefix (anywhere in the message, since callers may prefix context).</summary>
    private static DuckDbErrorType Classify(string message)
    {
        foreach (var (prefix, type) in Prefixes)
        {
            if (message.Contains(prefix, StringComparison.Ordinal))
            {
                return type;
            }
        }

        // The appender reports an exhausted memory limit without the class prefix ("Failed to append: could not
        // allocate block of size ..."): callers that retry smaller on out-of-memory need to see it as one.
        return message.Contains("could not allocate block", StringComparison.Ordinal) || message.Contains("failed to allocate data", StringComparison.Ordinal)
            ? DuckDbErrorType.OutOfMemory
            : DuckDbErrorType.Invalid;
    }

    private static readonly (string Prefix, DuckDbErrorType Type)[] Prefixes =
    [
        ("Parser Error:", DuckDbErrorType.Parser),
        ("Syntax Error:", DuckDbErrorType.Syntax),
        ("Binder Error:", DuckDbErrorType.Binder),
        ("Catalog Error:", DuckDbErrorType.Catalog),
        ("IO Error:", DuckDbErrorType.IO),
        ("Invalid Input Error:", DuckDbErrorType.InvalidInput),
        ("Conversion Error:", DuckDbErrorType.Conversion),
        ("Constraint Error:", DuckDbErrorType.Constraint),
        ("Out of Range Error:", DuckDbErrorType.OutOfRange),
        ("Out of Memory Error:", DuckDbErrorType.OutOfMemory),
        ("Interrupt Error:", DuckDbErrorType.Interrupt),
        ("Permission Error:", DuckDbErrorType.Permission),
        ("TransactionContext Error:", DuckDbErrorType.Transaction),
        ("Transaction Error:", DuckDbErrorType.Transaction),
        ("Dependency Error:", DuckDbErrorType.Dependency),
        ("Not implemented Error:", DuckDbErrorType.NotImplemented),
        ("INTERNAL Error:", DuckDbErrorType.Internal),
    ];

    private static string Compose(string message, string? sql)
    {
        if (sql is null)
        {
            return message;
        }

        var shown = sql.Length <= MaxSqlInMessage ? sql : string.Concat(sql.AsSpan(0, MaxSqlInMessage), "...");
        return $"{message} (SQL: {shown})";
    }
}
