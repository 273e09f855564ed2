using TraceStore.DuckDb;
using TraceStore.DuckDb.TableFunctions;

namespace TraceStore.Engine.Segments;

/// <summary>One file of a segment as rows DuckDB can read: its columns, and how to write a run of its rows (in the
/// file's order, from <see cref="SegmentRows"/>) into an output chunk. Strings are handed to DuckDB in place
/// (<c>SetUtf8InPlace</c>, no native call per string): id texts and summary strings from <see cref="SegmentRows"/>'
/// pinned arrays, arena bytes (UTF-8 the decoder checked) through a copy in <see cref="ChunkStrings"/>.</summary>
internal abstract class SegmentFile
{
    private readonly ChunkStrings _strings = new();

    public abstract IReadOnlyList<DuckDbColumn> Columns { get; }

    public abstract int RowCount(SegmentRows rows);

    /// <summary>Puts the rows in this file's order if <see cref="SegmentRows.Reset"/> did not (attrs, traces). Called at
    /// bind, on the thread of the COPY that writes the file, so that work overlaps the other files' COPYs.</summary>
    public virtual void Prepare(SegmentRows rows)
    {
    }

    /// <summary>Writes rows [<paramref name="first"/>, <paramref name="first"/> + <paramref name="count"/>) into output
    /// rows 0 .. <paramref name="count"/> - 1, every column (the scan checks the projection is all of them, in order).</summary>
    public abstract void Write(SegmentRows rows, int first, int count, DuckDbTableOutput output);

    /// <summary>Called before each chunk: the strings copied for the previous chunk are no longer needed.</summary>
    public void BeginChunk() => _strings.Reset();

    /// <summary>Arena bytes as DuckDB may read them in place until the next chunk (<see cref="ChunkStrings"/>).</summary>
    protected ReadOnlySpan<byte> Stable(ReadOnlySpan<byte> arenaBytes) => _strings.Copy(arenaBytes);

    /// <summary>Arena bytes (checked UTF-8), copied for DuckDB to read in place, or NULL.</summary>
    protected void SetOptional(DuckDbVectorWriter column, int row, ReadOnlySpan<byte> arenaBytes, bool present)
    {
        if (present)
        {
            column.SetUtf8InPlace(row, Stable(arenaBytes));
        }
        else
        {
            column.SetNull(row);
        }
    }

    protected static void SetOptional(DuckDbVectorWriter column, int row, long value, bool present)
    {
        if (present)
        {
            column.SetInt64(row, value);
        }
        else
        {
            column.SetNull(row);
        }
    }
}

/// <summary>
/// The table function <c>name()</c> through which one COPY streams a segment file's rows to Parquet, straight from the
/// trace buffers: the rows are produced a chunk at a time in their final order, so DuckDB neither stores nor sorts
/// them. It reads the segment the writer is writing (<paramref name="current"/>); a query outside a write fails.
/// </summary>
internal sealed class SegmentFileFunction(string name, SegmentFile file, Func<SegmentRows?> current) : DuckDbTableFunction(name)
{
    private long _fillTicks;

    /// <summary>Time spent producing rows (in <see cref="IDuckDbTableScan.Fill"/>) so far, in Stopwatch ticks: what
    /// of a COPY's time is ours rather than DuckDB's Parquet writer's.</summary>
    public long FillTicks => Interlocked.Read(ref _fillTicks);

    public override DuckDbTableBinding Bind(DuckDbTableFunctionArguments arguments)
    {
        var rows = current() ?? throw new InvalidOperationException($"{Name}() reads the segment being written; no segment is being written.");
        file.Prepare(rows);
        return new DuckDbTableBinding(file.Columns, projection => new Scan(this, file, rows, projection), file.RowCount(rows));
    }

    private sealed class Scan : IDuckDbTableScan
    {
        private readonly SegmentFileFunction _function;
        private readonly SegmentFile _file;
        private readonly SegmentRows _rows;
        private readonly int _total;
        private int _next;

        public Scan(SegmentFileFunction function, SegmentFile file, SegmentRows rows, IReadOnlyList<int> projection)
        {
            _function = function;
            for (var i = 0; i < projection.Count; i++)
            {
                if (projection[i] != i || projection.Count != file.Columns.Count)
                {
                    throw new InvalidOperationException("A segment file function is read whole (SELECT *), in column order.");
                }
            }

            _file = file;
            _rows = rows;
            _total = file.RowCount(rows);
        }

        public int Fill(DuckDbTableOutput output)
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var count = Math.Min(DuckDbTableOutput.Capacity, _total - _next);
            if (count > 0)
            {
                _file.BeginChunk();
                _file.Write(_rows, _next, count, output);
                _next += count;
            }

            Interlocked.Add(ref _function._fillTicks, System.Diagnostics.Stopwatch.GetTimestamp() - started);
            return count;
        }
    }
}
