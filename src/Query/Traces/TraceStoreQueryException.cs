namespace TraceStore.Query.Traces;

/// <summary>MLflow's error codes for trace requests (the REST layer maps them to HTTP statuses).</summary>
public enum QueryErrorCode
{
    /// <summary>HTTP 400.</summary>
    InvalidParameterValue,

    /// <summary>HTTP 404.</summary>
    ResourceDoesNotExist,
}

/// <summary>A trace request that cannot be served, with MLflow's error code and a message saying why.</summary>
public sealed class TraceStoreQueryException : Exception
{
    public TraceStoreQueryException()
    {
    }

    public TraceStoreQueryException(string message)
        : base(message)
    {
    }

    public TraceStoreQueryException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public TraceStoreQueryException(QueryErrorCode code, string message)
        : base(message)
    {
        Code = code;
    }

    public QueryErrorCode Code { get; }
}
