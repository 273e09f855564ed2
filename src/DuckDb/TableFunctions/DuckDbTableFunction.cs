namespace TraceStore.DuckDb.TableFunctions;

/// <summary>
/// A table function implemented in C#, callable from SQL as <c>SELECT ... FROM name(arg, ...)</c> once
/// registered on a connection. DuckDB calls <see cref="Bind"/> once per query (on a DuckDB thread) to learn
/// the columns, then reads rows through the scan the binding opens. Any exception thrown by this code is
/// caught at the native boundary and becomes the query's error; it never reaches DuckDB's native frames.
/// </summary>
internal abstract class DuckDbTableFunction
{
    protected DuckDbTableFunction(string name, params DuckDbLogicalType[] parameters)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        Parameters = parameters;
    }

    public string Name { get; }

    /// <summary>Positional parameter types; supported: BOOLEAN, INTEGER, BIGINT, DOUBLE, VARCHAR.</summary>
    public IReadOnlyList<DuckDbLogicalType> Parameters { get; }

    public abstract DuckDbTableBinding Bind(DuckDbTableFunctionArguments arguments);
}

/// <summary>What a table function produces for one query: its columns and how to scan them.</summary>
internal sealed class DuckDbTableBinding
{
    private readonly Func<IReadOnlyList<int>, IDuckDbTableScan> _openScan;

    /// <param name="columns">The result columns, in order.</param>
    /// <param name="openScan">Opens a scan given the projected column indexes (into <paramref name="columns"/>),
    /// in the order they appear in the output chunk. Columns a query does not read are not in the list.</param>
    /// <param name="estimatedRows">A cardinality hint for DuckDB's planner, if known.</param>
    public DuckDbTableBinding(IReadOnlyList<DuckDbColumn> columns, Func<IReadOnlyList<int>, IDuckDbTableScan> openScan, long? estimatedRows = null)
    {
        ArgumentOutOfRangeException.ThrowIfZero(columns.Count);
        Columns = columns;
        _openScan = openScan;
        EstimatedRows = estimatedRows;
    }

    public IReadOnlyList<DuckDbColumn> Columns { get; }

    public long? EstimatedRows { get; }

    internal IDuckDbTableScan OpenScan(IReadOnlyList<int> projection) => _openScan(projection);
}

/// <summary>One scan of a table function's rows. Called from one DuckDB thread at a time. If it is
/// <see cref="IDisposable"/>, it is disposed when DuckDB releases the scan.</summary>
internal interface IDuckDbTableScan
{
    /// <summary>Writes up to <see cref="DuckDbTableOutput.Capacity"/> rows and returns how many; 0 ends the scan.</summary>
    int Fill(DuckDbTableOutput output);
}

/// <summary>The arguments a query passed to a table function, converted to the declared parameter types.</summary>
internal sealed class DuckDbTableFunctionArguments
{
    private readonly object?[] _values;

    internal DuckDbTableFunctionArguments(object?[] values) => _values = values;

    public int Count => _values.Length;

    public bool IsNull(int index) => _values[index] is null;

    public long GetInt64(int index) => (long)(_values[index] ?? throw NullArgument(index));

    public double GetDouble(int index) => (double)(_values[index] ?? throw NullArgument(index));

    public bool GetBoolean(int index) => (bool)(_values[index] ?? throw NullArgument(index));

    public string GetString(int index) => (string)(_values[index] ?? throw NullArgument(index));

    private static ArgumentException NullArgument(int index) => new($"Argument {index + 1} is NULL.");
}
