namespace TraceStore.DuckDb;

/// <summary>A result or table-function column: its name and type.</summary>
internal sealed record DuckDbColumn(string Name, DuckDbLogicalType Type);
