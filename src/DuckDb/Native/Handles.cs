using System.Runtime.InteropServices;

namespace TraceStore.DuckDb.Native;

/// <summary>
/// Base of every owned DuckDB object. <see cref="LiveCount"/> counts handle instances created and not yet
/// disposed or finalized, across the process: tests use it to prove that open/query/dispose cycles leak nothing.
/// </summary>
internal abstract class DuckDbHandle : SafeHandle
{
    private static long s_liveCount;
    private int _counted = 1;

    protected DuckDbHandle()
        : base(0, ownsHandle: true) => Interlocked.Increment(ref s_liveCount);

    public static long LiveCount => Volatile.Read(ref s_liveCount);

    public override bool IsInvalid => handle == 0;

    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _counted, 0) == 1)
        {
            Interlocked.Decrement(ref s_liveCount);
        }

        base.Dispose(disposing);
    }

    protected void Adopt(nint owned) => SetHandle(owned);
}

internal sealed class DatabaseHandle : DuckDbHandle
{
    protected override bool ReleaseHandle()
    {
        var h = handle;
        NativeMethods.Startup.Close(ref h);
        return true;
    }
}

internal sealed class ConnectionHandle : DuckDbHandle
{
    protected override bool ReleaseHandle()
    {
        var h = handle;
        NativeMethods.Startup.Disconnect(ref h);
        return true;
    }
}

internal sealed class ConfigHandle : DuckDbHandle
{
    protected override bool ReleaseHandle()
    {
        var h = handle;
        NativeMethods.Startup.DestroyConfig(ref h);
        return true;
    }
}

internal sealed class PreparedStatementHandle : DuckDbHandle
{
    protected override bool ReleaseHandle()
    {
        var h = handle;
        NativeMethods.PreparedStatements.Destroy(ref h);
        return true;
    }
}

internal sealed class AppenderHandle : DuckDbHandle
{
    protected override bool ReleaseHandle()
    {
        var h = handle;
        // duckdb_appender_destroy flushes what is buffered; a failure here has no one to report to
        // (the owner flushes and closes explicitly first and reports errors there).
        _ = NativeMethods.Appender.Destroy(ref h);
        return true;
    }
}

internal sealed class DataChunkHandle : DuckDbHandle
{
    public static DataChunkHandle Own(nint chunk)
    {
        var h = new DataChunkHandle();
        h.Adopt(chunk);
        return h;
    }

    protected override bool ReleaseHandle()
    {
        var h = handle;
        NativeMethods.DataChunks.Destroy(ref h);
        return true;
    }
}

internal sealed class LogicalTypeHandle : DuckDbHandle
{
    public static LogicalTypeHandle Own(nint type)
    {
        var h = new LogicalTypeHandle();
        h.Adopt(type);
        return h;
    }

    protected override bool ReleaseHandle()
    {
        var h = handle;
        NativeMethods.LogicalTypes.Destroy(ref h);
        return true;
    }
}

internal sealed class ValueHandle : DuckDbHandle
{
    protected override bool ReleaseHandle()
    {
        var h = handle;
        NativeMethods.Values.Destroy(ref h);
        return true;
    }
}

/// <summary>Owns a native <see cref="DuckDbResultStruct"/> (it must not move while DuckDB holds pointers into
/// it) and the result DuckDB fills into it. <c>duckdb_destroy_result</c> is safe on a failed or empty result.</summary>
internal sealed unsafe class ResultHandle : DuckDbHandle
{
    public static ResultHandle Allocate()
    {
        var h = new ResultHandle();
        h.Adopt((nint)NativeMemory.AllocZeroed((nuint)sizeof(DuckDbResultStruct)));
        return h;
    }

    public DuckDbResultStruct* Pointer => (DuckDbResultStruct*)handle;

    protected override bool ReleaseHandle()
    {
        NativeMethods.Query.DestroyResult((DuckDbResultStruct*)handle);
        NativeMemory.Free((void*)handle);
        return true;
    }
}
