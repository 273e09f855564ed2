using System.Text;
using TraceStore.DuckDb;

namespace TraceStore.Engine.Segments;

/// <summary>
/// One input file of a merge, read in its stored order a chunk at a time: a streaming <c>read_parquet</c> of that one
/// file on a connection of its own (DuckDB allows one open streaming result per connection). With one DuckDB thread and
/// one file, the scan returns the rows in file order, so <see cref="FileRow"/> is the row's number in the file (what
/// the attrs file's <c>span_row</c> names). The current row is (<see cref="Chunk"/>, <see cref="Row"/>).
/// </summary>
/// <remarks>
/// Memory: the connection's <c>streaming_buffer_size</c> is <see cref="StreamingBufferSize"/>, so DuckDB reads one
/// chunk ahead of the one held here. DuckDB counts only a buffered chunk's fixed-width vectors against that setting
/// (16 bytes per VARCHAR value, not its text), so at its default (976 KiB) a streaming result of 6 VARCHAR columns ran
/// about 5 chunks ahead whatever their text: a whole input payloads file of 9,750 GenAI payloads (38 MiB decoded) per
/// input, 12 of them in a 12-input merge, none of it in DuckDB's memory accounting (measured 2026-11-22,
/// docs/segments.md "Where the memory goes"). With one chunk ahead, what a reader holds is its current row group's
/// pages (counted as DuckDB's <c>ALLOCATOR</c> memory, under the readers' limit), the chunk it decoded ahead and the
/// chunk the merge is reading.
/// </remarks>
internal sealed class MergeInput : IDisposable
{
    /// <summary>Less than any chunk's vectors, so DuckDB stops at one chunk ahead (it does not accept 0).</summary>
    internal const string StreamingBufferSize = "1KB";

    private static readonly object?[] Streaming = [];

    private readonly DuckDbConnection _connection;
    private readonly DuckDbResult _result;
    private readonly int[] _keyColumns;
    private readonly DuckDbVector[] _keys;
    private long _chunkStart;

    /// <param name="rank">The input's age among the merge's inputs, 0 the earliest (smallest seal sequence): among
    /// rows with equal keys, the lower rank comes first, and its copy of a span is the one kept.</param>
    /// <param name="columns">The select list, <c>*</c> for every column.</param>
    /// <param name="keyColumns">Names of the columns <see cref="Key"/> gives, by position.</param>
    public MergeInput(DuckDbDatabase database, string path, int rank, string columns, params string[] keyColumns)
    {
        Rank = rank;
        _connection = Connect(database);
        try
        {
            _result = _connection.Query($"SELECT {columns} FROM read_parquet({DuckDbSql.Literal(path)})", Streaming);
            _keyColumns = [.. keyColumns.Select(name => IndexOf(_result.Columns, name, path))];
            _keys = new DuckDbVector[_keyColumns.Length];
            NextChunk();
        }
        catch
        {
            _result?.Dispose();
            _connection.Dispose();
            throw;
        }
    }

    public int Rank { get; }

    /// <summary>A connection for one input's streaming result: <c>streaming_buffer_size</c> set to
    /// <see cref="StreamingBufferSize"/>.</summary>
    internal static DuckDbConnection Connect(DuckDbDatabase database)
    {
        var connection = database.Connect();
        try
        {
            connection.Execute($"SET streaming_buffer_size = '{StreamingBufferSize}'");
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    public IReadOnlyList<DuckDbColumn> Columns => _result.Columns;

    /// <summary>The chunk holding the current row; null once every row was read.</summary>
    public DuckDbDataChunk? Chunk { get; private set; }

    public bool Exhausted => Chunk is null;

    /// <summary>The current row's index in <see cref="Chunk"/>.</summary>
    public int Row { get; private set; }

    /// <summary>The current row's number in the file (0-based).</summary>
    public long FileRow => _chunkStart + Row;

    /// <summary>Key column <paramref name="key"/> (by its position in the constructor's list) of the current chunk.</summary>
    public DuckDbVector Key(int key) => _keys[key];

    /// <summary>Moves to the next row of the current chunk; false at its end (then call <see cref="NextChunk"/>, once the
    /// chunk's rows are no longer needed).</summary>
    public bool NextRowInChunk() => ++Row < Chunk!.RowCount;

    /// <summary>Moves to the next row, fetching the next chunk if needed; false once every row was read.</summary>
    public bool NextRow()
    {
        if (!NextRowInChunk())
        {
            NextChunk();
        }

        return !Exhausted;
    }

    /// <summary>Drops the current chunk and fetches the next (an error of the scan is thrown here).</summary>
    public void NextChunk()
    {
        if (Chunk is { } done)
        {
            _chunkStart += done.RowCount;
            done.Dispose();
        }

        Chunk = _result.NextChunk();
        Row = 0;
        if (Chunk is { } chunk)
        {
            for (var i = 0; i < _keyColumns.Length; i++)
            {
                _keys[i] = chunk[_keyColumns[i]];
            }
        }
    }

    public void Dispose()
    {
        Chunk?.Dispose();
        Chunk = null;
        _result.Dispose();
        _connection.Dispose();
    }

    /// <summary>Compares two VARCHAR values as DuckDB's ORDER BY does: by their UTF-8 bytes, unsigned, a prefix
    /// first (the order <see cref="AttributeSorter"/> writes attrs in); NULL last, DuckDB's default.</summary>
    public static int CompareText(DuckDbVector a, int rowA, DuckDbVector b, int rowB)
    {
        var nullA = a.IsNull(rowA);
        var nullB = b.IsNull(rowB);
        if (nullA || nullB)
        {
            return nullA == nullB ? 0 : nullA ? 1 : -1;
        }

        return a.GetBytes(rowA).SequenceCompareTo(b.GetBytes(rowB));
    }

    private static int IndexOf(IReadOnlyList<DuckDbColumn> columns, string name, string path)
    {
        for (var i = 0; i < columns.Count; i++)
        {
            if (columns[i].Name == name)
            {
                return i;
            }
        }

        throw new InvalidDataException($"{path} has no column {name}.");
    }
}

/// <summary>Trace ids looked up by their UTF-8 bytes as read from a chunk, without a string per lookup.</summary>
internal sealed class TraceIdSet
{
    private readonly HashSet<string> _ids;
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    public TraceIdSet(IEnumerable<string> ids)
    {
        _ids = new HashSet<string>(ids, StringComparer.Ordinal);
        _lookup = _ids.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public bool Contains(ReadOnlySpan<byte> utf8)
    {
        if (_ids.Count == 0)
        {
            return false;
        }

        Span<char> chars = utf8.Length <= 128 ? stackalloc char[128] : new char[utf8.Length];
        return _lookup.Contains(chars[..Encoding.UTF8.GetChars(utf8, chars)]);
    }
}
