using System.Runtime.InteropServices;
using TraceStore.DuckDb.Native;

namespace TraceStore.DuckDb.TableFunctions;

/// <summary>
/// The native side of <see cref="DuckDbTableFunction"/>: registration and the four
/// <c>[UnmanagedCallersOnly]</c> callbacks DuckDB invokes (bind, init, function, delete). Managed state
/// crosses as <see cref="GCHandle"/>s: the function object as the table function's extra info, the binding
/// as bind data, the scan as init data; DuckDB frees each through <see cref="FreeState"/>.
/// Invariant: no callback lets an exception escape (it would terminate the process); each catches everything
/// and reports it through the matching <c>duckdb_*_set_error</c>, which fails the query with that message.
/// </summary>
internal static unsafe class TableFunctionRegistration
{
    /// <summary>Parameter types a table function may declare (those <see cref="ReadArgument"/> converts).</summary>
    private static readonly DuckDbTypeId[] SupportedParameters =
        [DuckDbTypeId.Boolean, DuckDbTypeId.Integer, DuckDbTypeId.BigInt, DuckDbTypeId.Double, DuckDbTypeId.Varchar];

    private static long s_liveStates;

    /// <summary>GCHandles allocated for table functions and not yet freed by DuckDB (observable for leak tests).</summary>
    public static long LiveStates => Volatile.Read(ref s_liveStates);

    public static void Register(DuckDbConnection connection, DuckDbTableFunction function)
    {
        ArgumentNullException.ThrowIfNull(function);
        foreach (var parameter in function.Parameters)
        {
            if (Array.IndexOf(SupportedParameters, parameter.Id) < 0)
            {
                throw new ArgumentException($"Table function {function.Name}: parameters of type {parameter} are not supported.", nameof(function));
            }
        }

        var native = NativeMethods.TableFunctions.Create();
        try
        {
            NativeMethods.TableFunctions.SetName(native, function.Name);
            foreach (var parameter in function.Parameters)
            {
                using var type = parameter.CreateHandle();
                NativeMethods.TableFunctions.AddParameter(native, type);
            }

            NativeMethods.TableFunctions.SetExtraInfo(native, Allocate(function), &FreeState);
            NativeMethods.TableFunctions.SetBind(native, &Bind);
            NativeMethods.TableFunctions.SetInit(native, &Init);
            NativeMethods.TableFunctions.SetFunction(native, &Produce);
            NativeMethods.TableFunctions.SupportsProjectionPushdown(native, 1);
            if (NativeMethods.TableFunctions.Register(connection.Handle, native) != DuckDbState.Success)
            {
                throw new DuckDbException($"DuckDB refused to register table function {function.Name} (is the name already taken?).");
            }
        }
        finally
        {
            NativeMethods.TableFunctions.Destroy(ref native);
        }
    }

    [UnmanagedCallersOnly]
    private static void Bind(nint info)
    {
        DuckDbTableFunction? function = null;
        try
        {
            function = (DuckDbTableFunction)GCHandle.FromIntPtr(NativeMethods.TableFunctions.BindGetExtraInfo(info)).Target!;
            var arguments = new object?[function.Parameters.Count];
            for (var i = 0; i < arguments.Length; i++)
            {
                using var value = NativeMethods.TableFunctions.BindGetParameter(info, (ulong)i);
                arguments[i] = ReadArgument(value.DangerousGetHandle(), function.Parameters[i]);
            }

            var binding = function.Bind(new DuckDbTableFunctionArguments(arguments));
            foreach (var column in binding.Columns)
            {
                using var type = column.Type.CreateHandle();
                NativeMethods.TableFunctions.BindAddResultColumn(info, column.Name, type);
            }

            if (binding.EstimatedRows is { } rows)
            {
                NativeMethods.TableFunctions.BindSetCardinality(info, (ulong)Math.Max(rows, 0), 0);
            }

            NativeMethods.TableFunctions.BindSetBindData(info, Allocate(new BindState(function.Name, binding)), &FreeState);
        }
        catch (Exception e)
        {
            NativeMethods.TableFunctions.BindSetError(info, Describe(function?.Name, e));
        }
    }

    [UnmanagedCallersOnly]
    private static void Init(nint info)
    {
        BindState? bind = null;
        try
        {
            bind = (BindState)GCHandle.FromIntPtr(NativeMethods.TableFunctions.InitGetBindData(info)).Target!;
            var count = (int)NativeMethods.TableFunctions.InitGetColumnCount(info);
            var projection = new int[count];
            for (var i = 0; i < count; i++)
            {
                var column = NativeMethods.TableFunctions.InitGetColumnIndex(info, (ulong)i);
                if (column >= (ulong)bind.Binding.Columns.Count)
                {
                    // DuckDB may ask for a virtual column (the row id) that a C# table function does not have.
                    throw new InvalidOperationException($"DuckDB requested column index {column}, but the function has {bind.Binding.Columns.Count} columns.");
                }

                projection[i] = (int)column;
            }

            var scan = bind.Binding.OpenScan(projection);
            NativeMethods.TableFunctions.InitSetInitData(info, Allocate(new ScanState(bind, scan, projection)), &FreeState);
            NativeMethods.TableFunctions.InitSetMaxThreads(info, 1);
        }
        catch (Exception e)
        {
            NativeMethods.TableFunctions.InitSetError(info, Describe(bind?.Name, e));
        }
    }

    [UnmanagedCallersOnly]
    private static void Produce(nint info, nint output)
    {
        ScanState? state = null;
        try
        {
            state = (ScanState)GCHandle.FromIntPtr(NativeMethods.TableFunctions.FunctionGetInitData(info)).Target!;
            var rows = state.Scan.Fill(new DuckDbTableOutput(output, state.Bind.Binding.Columns, state.Projection));
            if (rows < 0 || rows > DuckDbTableOutput.Capacity)
            {
                throw new InvalidOperationException($"Fill returned {rows} rows; it must return 0..{DuckDbTableOutput.Capacity}.");
            }

            NativeMethods.DataChunks.SetSize(output, (ulong)rows);
        }
        catch (Exception e)
        {
            NativeMethods.DataChunks.SetSize(output, 0);
            NativeMethods.TableFunctions.FunctionSetError(info, Describe(state?.Bind.Name, e));
        }
    }

    [UnmanagedCallersOnly]
    private static void FreeState(nint state)
    {
        try
        {
            var handle = GCHandle.FromIntPtr(state);
            (handle.Target as ScanState)?.Dispose();
            handle.Free();
            Interlocked.Decrement(ref s_liveStates);
        }
        catch (Exception e)
        {
            // Nothing in DuckDB can receive an error from a delete callback; a failing Dispose is a bug in the scan.
            Environment.FailFast("A table-function scan threw from Dispose.", e);
        }
    }

    private static nint Allocate(object state)
    {
        Interlocked.Increment(ref s_liveStates);
        return GCHandle.ToIntPtr(GCHandle.Alloc(state));
    }

    private static object? ReadArgument(nint value, DuckDbLogicalType declared)
    {
        if (NativeMethods.Values.IsNull(value) != 0)
        {
            return null;
        }

        return declared.Id switch
        {
            DuckDbTypeId.Boolean => NativeMethods.Values.GetBool(value) != 0,
            DuckDbTypeId.Integer or DuckDbTypeId.BigInt => NativeMethods.Values.GetInt64(value),
            DuckDbTypeId.Double => NativeMethods.Values.GetDouble(value),
            _ => NativeMethods.ReadUtf8AndFree(NativeMethods.Values.GetVarchar(value)),
        };
    }

    private static string Describe(string? function, Exception e) =>
        $"{function ?? "table function"}: {e.GetType().Name}: {e.Message}";

    private sealed record BindState(string Name, DuckDbTableBinding Binding);

    private sealed record ScanState(BindState Bind, IDuckDbTableScan Scan, int[] Projection) : IDisposable
    {
        public void Dispose() => (Scan as IDisposable)?.Dispose();
    }
}
