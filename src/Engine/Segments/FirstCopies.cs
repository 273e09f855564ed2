using System.Buffers.Text;
using TraceStore.DuckDb;

namespace TraceStore.Engine.Segments;

/// <summary>
/// Which rows of a merge's inputs repeat a (trace_id, span_id) that an earlier input (lower rank), or an earlier row of
/// the same input, already holds: the rows a merge leaves out so it keeps each span (or payload) once, from the
/// earliest folder, whatever its copies' start times (a retried span may differ in start time, so its copies need not
/// meet in the merged order). Found by a narrow pass before the merge: each input's (trace_id, span_id) read in file
/// order, the inputs walked together by trace id (every file is sorted by trace id first), and a trace's span ids
/// collected in a set while its rows are read, input by input in rank order. Memory: one set of the largest trace's span
/// ids (8 bytes each for the usual 16 hex digits: a million-span trace, about 20 MB while it is read) and the repeated
/// rows.
/// </summary>
internal sealed class FirstCopies
{
    private readonly long[][] _repeated;

    private FirstCopies(long[][] repeated) => _repeated = repeated;

    /// <summary>Reads (trace_id, span_id) of <paramref name="files"/> (in rank order) on connections of
    /// <paramref name="database"/>.</summary>
    public static FirstCopies Find(DuckDbDatabase database, IReadOnlyList<string> files)
    {
        var repeated = files.Select(_ => new List<long>()).ToArray();
        var inputs = new List<MergeInput>();
        try
        {
            for (var rank = 0; rank < files.Count; rank++)
            {
                inputs.Add(new MergeInput(database, files[rank], rank, "trace_id, span_id", "trace_id", "span_id"));
            }

            var ids = new HashSet<ulong>();
            var otherIds = new HashSet<string>(StringComparer.Ordinal);
            var trace = new byte[64];
            while (true)
            {
                MergeInput? least = null;
                foreach (var input in inputs)
                {
                    if (!input.Exhausted && (least is null || MergeInput.CompareText(input.Key(0), input.Row, least.Key(0), least.Row) < 0))
                    {
                        least = input;
                    }
                }

                if (least is null)
                {
                    break;
                }

                var length = least.Key(0).GetBytes(least.Row).Length;
                if (trace.Length < length)
                {
                    trace = new byte[length * 2];
                }

                least.Key(0).GetBytes(least.Row).CopyTo(trace);
                var current = trace.AsSpan(0, length);

                // A set that grew for a large trace is dropped, not cleared: Clear costs its capacity, every trace.
                if (ids.Count > 4096)
                {
                    ids = new HashSet<ulong>();
                }

                ids.Clear();
                otherIds.Clear();
                foreach (var input in inputs)
                {
                    while (!input.Exhausted && input.Key(0).GetBytes(input.Row).SequenceEqual(current))
                    {
                        var spanId = input.Key(1);
                        var added = spanId.IsNull(input.Row) ? otherIds.Add("")
                            : TryParseHex(spanId.GetBytes(input.Row), out var id) ? ids.Add(id)
                            : otherIds.Add(spanId.GetString(input.Row));
                        if (!added)
                        {
                            repeated[input.Rank].Add(input.FileRow);
                        }

                        input.NextRow();
                    }
                }
            }
        }
        finally
        {
            foreach (var input in inputs)
            {
                input.Dispose();
            }
        }

        return new FirstCopies([.. repeated.Select(rows => rows.ToArray())]);
    }

    /// <summary>The rows of input <paramref name="rank"/> to leave out, ascending.</summary>
    public RowSet Of(int rank) => new(_repeated[rank]);

    /// <summary>Repeated rows total.</summary>
    public long Count => _repeated.Sum(rows => (long)rows.Length);

    /// <summary>A span id of exactly 16 lowercase hex digits (the format's) as a number; other texts are kept as
    /// strings, so two different texts never share a number.</summary>
    private static bool TryParseHex(ReadOnlySpan<byte> text, out ulong id)
    {
        id = 0;
        if (text.Length != 16)
        {
            return false;
        }

        foreach (var b in text)
        {
            if (b is not ((>= (byte)'0' and <= (byte)'9') or (>= (byte)'a' and <= (byte)'f')))
            {
                return false;
            }
        }

        return Utf8Parser.TryParse(text, out id, out var consumed, 'x') && consumed == 16;
    }
}

/// <summary>A set of one input's rows (ascending), asked about in ascending row order, as a merge reads them.</summary>
internal sealed class RowSet(long[] rows)
{
    private int _next;

    /// <summary>Whether <paramref name="row"/> is in the set; rows must be asked about in ascending order.</summary>
    public bool Contains(long row)
    {
        while (_next < rows.Length && rows[_next] < row)
        {
            _next++;
        }

        return _next < rows.Length && rows[_next] == row;
    }
}
