using TraceStore.DuckDb;
using TraceStore.DuckDb.TableFunctions;

namespace TraceStore.Engine.Segments;

/// <summary>
/// A k-way merge of input files that are each sorted already, into output chunks in the merged order: the next row is
/// the least current row among the inputs (kept in a heap) by <see cref="CompareKeys"/> (the lower <see cref="MergeInput.Rank"/> first
/// on equal keys), and rows go to the output as runs: once an input is the least, its following rows are taken while
/// they still come before every other input's current row, and each run is copied column by column with
/// <c>duckdb_vector_copy_sel</c> (any column type, DuckDB copies the values). Nothing is sorted and nothing is held but
/// one chunk per input and the output chunk, so the merge's time is reading and writing, and its memory does not grow
/// with its inputs. <see cref="Keep"/> sees every row of every input once, in merged order (so each input's rows in
/// file order), and decides whether it is written.
/// </summary>
internal abstract class SortedMerge : IDisposable
{
    private readonly MergeInput[] _inputs;
    private readonly DuckDbSelection _selection = new(DuckDbTableOutput.Capacity);
    private long _written;
    private PriorityQueue<MergeInput, MergeInput>? _queue;

    /// <param name="inputs">Indexed by rank; the merge owns and disposes them. Every input has the same columns.</param>
    protected SortedMerge(IReadOnlyList<MergeInput> inputs)
    {
        ArgumentOutOfRangeException.ThrowIfZero(inputs.Count);
        _inputs = [.. inputs];
        Columns = inputs[0].Columns;
        for (var i = 0; i < inputs.Count; i++)
        {
            if (inputs[i].Rank != i)
            {
                throw new ArgumentException("Inputs must be given in rank order.", nameof(inputs));
            }

            if (!inputs[i].Columns.SequenceEqual(Columns))
            {
                throw new InvalidDataException($"The merge's inputs have different columns: ({Describe(Columns)}) and ({Describe(inputs[i].Columns)}).");
            }
        }
    }

    public IReadOnlyList<DuckDbColumn> Columns { get; }

    /// <summary>Orders the current rows of two inputs by the file's sort key (not by rank).</summary>
    protected abstract int CompareKeys(MergeInput a, MergeInput b);

    /// <summary>Whether the current row of <paramref name="input"/>, the next in merged order, is written; if so it is
    /// row <paramref name="mergedRow"/> of the merged file and row <paramref name="chunkRow"/> of the output chunk.</summary>
    protected abstract bool Keep(MergeInput input, long mergedRow, int chunkRow);

    /// <summary>A column the merge writes itself (<see cref="WriteComputed"/>) instead of copying it.</summary>
    protected virtual bool IsComputed(int column) => false;

    /// <summary>Writes the computed columns of output rows 0 .. <paramref name="rows"/> - 1.</summary>
    protected virtual void WriteComputed(DuckDbTableOutput output, int rows)
    {
    }

    /// <summary>Fills <paramref name="output"/> (every column, in order) with the next rows; 0 at the end.</summary>
    public int Fill(DuckDbTableOutput output)
    {
        var filled = 0;
        var selected = _selection.Rows;
        var queue = Queue();
        while (filled < DuckDbTableOutput.Capacity && queue.TryDequeue(out var first, out _))
        {
            var second = queue.Count > 0 ? queue.Peek() : null;
            var count = 0;
            bool more;
            do
            {
                if (Keep(first, _written + filled + count, filled + count))
                {
                    selected[count++] = (uint)first.Row;
                }

                more = first.NextRowInChunk();
            }
            while (more && filled + count < DuckDbTableOutput.Capacity && (second is null || Before(first, second)));

            if (count > 0)
            {
                for (var column = 0; column < Columns.Count; column++)
                {
                    if (!IsComputed(column))
                    {
                        output.CopyRows(column, first.Chunk!, column, _selection, count, filled);
                    }
                }

                filled += count;
            }

            if (!more)
            {
                first.NextChunk();
            }

            if (!first.Exhausted)
            {
                queue.Enqueue(first, first);
            }
        }

        WriteComputed(output, filled);
        _written += filled;
        return filled;
    }

    public void Dispose()
    {
        foreach (var input in _inputs)
        {
            input.Dispose();
        }

        _selection.Dispose();
    }

    /// <summary>The inputs that have rows left, least current row first: made at the first fill. An input is in it
    /// only while its current row does not move (the one taken out is advanced, then put back), so the heap's order
    /// stays valid; the least is found in log k comparisons per run instead of k.</summary>
    private PriorityQueue<MergeInput, MergeInput> Queue()
    {
        if (_queue is null)
        {
            _queue = new PriorityQueue<MergeInput, MergeInput>(_inputs.Length, Comparer<MergeInput>.Create((a, b) => Before(a, b) ? -1 : Before(b, a) ? 1 : 0));
            foreach (var input in _inputs.Where(input => !input.Exhausted))
            {
                _queue.Enqueue(input, input);
            }
        }

        return _queue;
    }

    private bool Before(MergeInput a, MergeInput b)
    {
        var order = CompareKeys(a, b);
        return order < 0 || (order == 0 && a.Rank < b.Rank);
    }

    private static string Describe(IReadOnlyList<DuckDbColumn> columns) => string.Join(", ", columns.Select(c => $"{c.Name} {c.Type}"));
}

/// <summary>
/// The table function <c>name()</c> through which one COPY writes a merged file: the rows of the merge the compactor
/// is running (<paramref name="current"/>), a chunk at a time in merged order. Read whole (<c>SELECT *</c>); a query
/// outside a merge fails.
/// </summary>
internal sealed class SegmentMergeFunction(string name, Func<SortedMerge?> current) : DuckDbTableFunction(name)
{
    public override DuckDbTableBinding Bind(DuckDbTableFunctionArguments arguments)
    {
        var merge = current() ?? throw new InvalidOperationException($"{Name}() reads the merge being written; no merge is running.");
        return new DuckDbTableBinding(merge.Columns, projection => new Scan(merge, projection));
    }

    private sealed class Scan : IDuckDbTableScan
    {
        private readonly SortedMerge _merge;

        public Scan(SortedMerge merge, IReadOnlyList<int> projection)
        {
            for (var i = 0; i < projection.Count; i++)
            {
                if (projection[i] != i || projection.Count != merge.Columns.Count)
                {
                    throw new InvalidOperationException("A merge function is read whole (SELECT *), in column order.");
                }
            }

            _merge = merge;
        }

        public int Fill(DuckDbTableOutput output) => _merge.Fill(output);
    }
}
