using System.Runtime.InteropServices;
using TraceStore.DuckDb;

namespace TraceStore.Engine.Segments;

/// <summary>
/// Builds a segment's text index (<see cref="TextIndexFormat"/>) from its written <c>spans.parquet</c> and
/// <c>payloads.parquet</c>, so the sealer and the compactor index exactly the text a search verifies: DuckDB computes
/// the lower-cased span text with <see cref="TextIndexFormat.SpanTextSql"/>'s parts and this class collects its trigrams.
/// Two streaming passes (spans, then payloads joined to their span rows by id); nothing is held per span but one byte.
/// <para>Memory: a bitmap of the segment's blocks per distinct gram (blocks / 8 bytes, at most <see cref="MaxBlocks"/>
/// / 8 = 128 bytes: blocks grow past the configured spans in large segments to keep that bound), a dictionary entry per
/// distinct gram, one byte per span, and a 256 KiB bitset of the current block's ASCII grams kept between builds.</para>
/// Not thread-safe: one per writer or compactor.
/// </summary>
internal sealed class TextIndexBuilder
{
    /// <summary>The most blocks a segment is divided into: bounds each gram's bitmap to 16 words (128 bytes).</summary>
    public const int MaxBlocks = 1024;

    private const int AsciiSlots = 1 << 21;
    private const byte LineFeed = (byte)'\n';

    // No parameters, but a prepared statement: its result streams a chunk at a time instead of materializing the text.
    private static readonly object?[] Streaming = [];

    // Gram -> index + 1. Looked up once per block a gram occurs in (ASCII grams go through the block's bitset first).
    private readonly Dictionary<int, int> _indexes = [];
    private readonly List<int> _grams = [];
    private ulong[] _bits = [];
    // The ASCII grams of the block being read, as a bitset over their slots (256 KiB, stays in cache), with the words
    // set so far: a gram is looked up in the dictionary once per block it occurs in, not once per byte.
    private readonly ulong[] _blockGrams = new ulong[AsciiSlots / 64];
    private readonly List<int> _touched = [];
    private int _currentBlock = -1;
    private readonly int _minBlockSpans;
    private int _words;
    private int _blockSpans;

    /// <param name="blockSpans">Spans per block (<see cref="TextIndexFormat.BlockSpans"/> by default); more in
    /// segments of over <see cref="MaxBlocks"/> blocks.</param>
    public TextIndexBuilder(int blockSpans = TextIndexFormat.BlockSpans)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSpans, 1);
        _minBlockSpans = blockSpans;
    }

    /// <summary>Bytes of the last build's bitmaps and gram list (what this class held beyond its fixed table).</summary>
    public long LastBuildBytes { get; private set; }

    /// <summary>Distinct grams of the last build.</summary>
    public int LastGrams { get; private set; }

    /// <summary>Writes <c>text.parquet</c> and <c>text_blocks.parquet</c> into <paramref name="folder"/>, which holds
    /// the segment's spans and payloads files. Uses (and leaves) temporary tables on <paramref name="connection"/>.</summary>
    public void Build(DuckDbConnection connection, string folder)
    {
        var spans = DuckDbSql.Literal(Path.Combine(folder, SegmentFormat.SpansFile));
        var payloads = DuckDbSql.Literal(Path.Combine(folder, SegmentFormat.PayloadsFile));
        long rows;
        using (var count = connection.Query($"SELECT count(*) FROM read_parquet({spans})"))
        {
            rows = count.ReadAllRows()[0][0] is long n ? n : 0;
        }

        Reset(rows);
        var lastBytes = new byte[rows];
        var firstPayload = new long[BlockCount(rows)];
        var lastPayload = new long[firstPayload.Length];
        Array.Fill(firstPayload, long.MaxValue);
        Array.Fill(lastPayload, -1);

        using (var light = connection.Query($"SELECT file_row_number, lower({TextIndexFormat.LightTextSql("s")}) FROM read_parquet({spans}, file_row_number = true) s", Streaming))
        {
            // Each span's light text with two line feeds after it: the text of a span without payload ends so.
            Span<byte> tail = [LineFeed, LineFeed];
            while (light.NextChunk() is { } chunk)
            {
                using (chunk)
                {
                    for (var i = 0; i < chunk.RowCount; i++)
                    {
                        var row = chunk[0].GetInt64(i);
                        var text = chunk[1].GetBytes(i);
                        var block = (int)(row / _blockSpans);
                        AddGrams(text, block);
                        AddGrams(text.Length >= 2 ? text[^2..] : text, tail, block);
                        lastBytes[row] = text.Length > 0 ? text[^1] : LineFeed;
                    }
                }
            }
        }

        FlushBlock();

        using (var heavy = connection.Query(
            $"SELECT s.file_row_number, p.file_row_number, lower({TextIndexFormat.PayloadTextSql("p")}) " +
            $"FROM read_parquet({payloads}, file_row_number = true) p " +
            $"JOIN (SELECT trace_id, span_id, file_row_number FROM read_parquet({spans}, file_row_number = true)) s ON s.trace_id = p.trace_id AND s.span_id = p.span_id", Streaming))
        {
            Span<byte> head = stackalloc byte[2];
            head[1] = LineFeed;
            while (heavy.NextChunk() is { } chunk)
            {
                using (chunk)
                {
                    for (var i = 0; i < chunk.RowCount; i++)
                    {
                        var row = chunk[0].GetInt64(i);
                        var payloadRow = chunk[1].GetInt64(i);
                        var text = chunk[2].GetBytes(i);
                        var block = (int)(row / _blockSpans);

                        // The grams across the join: the light text's last byte, its line feed, the payload text.
                        head[0] = lastBytes[row];
                        AddGrams(head, text.Length >= 2 ? text[..2] : text, block);
                        AddGrams(text, block);
                        firstPayload[block] = Math.Min(firstPayload[block], payloadRow);
                        lastPayload[block] = Math.Max(lastPayload[block], payloadRow);
                    }
                }
            }
        }

        FlushBlock();
        WriteGrams(connection, Path.Combine(folder, TextIndexFormat.GramsFile));
        WriteBlocks(connection, Path.Combine(folder, TextIndexFormat.BlocksFile), rows, firstPayload, lastPayload);
        LastBuildBytes = ((long)_bits.Length * sizeof(ulong)) + ((long)_grams.Count * sizeof(int)) + lastBytes.Length + (firstPayload.Length * 16L);
        LastGrams = _grams.Count;
        Release();
    }

    private int BlockCount(long rows) => (int)((rows + _blockSpans - 1) / _blockSpans);

    private void Reset(long rows)
    {
        _blockSpans = (int)Math.Max(_minBlockSpans, (rows + MaxBlocks - 1) / MaxBlocks);
        _words = Math.Max(1, (BlockCount(rows) + 63) / 64);
        _bits = new ulong[Math.Max(1024, 4096 * _words)];
    }

    private void Release()
    {
        _indexes.Clear();
        _indexes.TrimExcess();
        _grams.Clear();
        _bits = [];
    }

    private void AddGrams(ReadOnlySpan<byte> text, int block)
    {
        for (var i = 0; i + 2 < text.Length; i++)
        {
            Set(TextIndexFormat.Gram(text[i], text[i + 1], text[i + 2]), block);
        }
    }

    /// <summary>The grams of <paramref name="first"/> followed by <paramref name="second"/> that cross between them
    /// (both at most 2 bytes).</summary>
    private void AddGrams(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, int block)
    {
        Span<byte> joined = stackalloc byte[4];
        first.CopyTo(joined);
        second.CopyTo(joined[first.Length..]);
        var length = first.Length + second.Length;
        for (var i = Math.Max(0, first.Length - 2); i + 2 < length && i < first.Length; i++)
        {
            Set(TextIndexFormat.Gram(joined[i], joined[i + 1], joined[i + 2]), block);
        }
    }

    private void Set(int gram, int block)
    {
        if (IsAscii(gram))
        {
            if (block != _currentBlock)
            {
                FlushBlock();
                _currentBlock = block;
            }

            var slot = AsciiSlot(gram);
            ref var word = ref _blockGrams[slot >> 6];
            if (word == 0)
            {
                _touched.Add(slot >> 6);
            }

            word |= 1UL << (slot & 63);
            return;
        }

        SetBit(IndexOf(gram), block);
    }

    private int IndexOf(int gram)
    {
        ref var index = ref CollectionsMarshal.GetValueRefOrAddDefault(_indexes, gram, out var exists);
        if (!exists)
        {
            index = Add(gram);
        }

        return index - 1;
    }

    /// <summary>Moves the current block's ASCII grams into their bitmaps. Rows may come in any order (the compactor's
    /// DuckDB does not keep insertion order): a change of block flushes, so only speed depends on the order.</summary>
    private void FlushBlock()
    {
        foreach (var w in _touched)
        {
            var bits = _blockGrams[w];
            _blockGrams[w] = 0;
            while (bits != 0)
            {
                var slot = (w << 6) + System.Numerics.BitOperations.TrailingZeroCount(bits);
                bits &= bits - 1;
                SetBit(IndexOf(((slot >> 14) << 16) | (((slot >> 7) & 0x7F) << 8) | (slot & 0x7F)), _currentBlock);
            }
        }

        _touched.Clear();
        _currentBlock = -1;
    }

    private void SetBit(int index, int block) => _bits[(index * _words) + (block >> 6)] |= 1UL << (block & 63);

    /// <summary>A new gram's index + 1, its bitmap zeroed.</summary>
    private int Add(int gram)
    {
        _grams.Add(gram);
        var needed = _grams.Count * _words;
        if (needed > _bits.Length)
        {
            Array.Resize(ref _bits, Math.Max(needed, _bits.Length * 2));
        }

        return _grams.Count;
    }

    private static bool IsAscii(int gram) => (gram & 0x808080) == 0;

    private static int AsciiSlot(int gram) => ((gram >> 2) & (0x7F << 14)) | ((gram >> 1) & (0x7F << 7)) | (gram & 0x7F);

    /// <summary>One row per (gram, 64-block word) with a bit set, sorted by gram then word.</summary>
    private void WriteGrams(DuckDbConnection connection, string path)
    {
        var order = new int[_grams.Count];
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        var grams = CollectionsMarshal.AsSpan(_grams);
        var keys = grams.ToArray();
        Array.Sort(keys, order);
        connection.Execute("CREATE OR REPLACE TEMPORARY TABLE text_grams (gram INTEGER NOT NULL, word SMALLINT NOT NULL, bits UBIGINT NOT NULL)");
        using (var appender = connection.CreateChunkAppender("text_grams"))
        {
            foreach (var index in order)
            {
                for (var word = 0; word < _words; word++)
                {
                    var bits = _bits[(index * _words) + word];
                    if (bits != 0)
                    {
                        var row = appender.AddRow();
                        appender.Column(0).SetInt32(row, grams[index]);
                        appender.Column(1).SetInt16(row, (short)word);
                        appender.Column(2).SetUInt64(row, bits);
                    }
                }
            }

            appender.Close();
        }

        connection.Execute(SegmentFormat.Copy("SELECT * FROM text_grams", "gram, word", path, TextIndexFormat.GramRowGroupRows));
        connection.Execute("DROP TABLE text_grams");
    }

    private void WriteBlocks(DuckDbConnection connection, string path, long rows, long[] firstPayload, long[] lastPayload)
    {
        connection.Execute("CREATE OR REPLACE TEMPORARY TABLE text_blocks (block INTEGER NOT NULL, first_span_row BIGINT NOT NULL, last_span_row BIGINT NOT NULL, first_payload_row BIGINT, last_payload_row BIGINT)");
        using (var appender = connection.CreateChunkAppender("text_blocks"))
        {
            for (var block = 0; block < firstPayload.Length; block++)
            {
                var row = appender.AddRow();
                appender.Column(0).SetInt32(row, block);
                appender.Column(1).SetInt64(row, (long)block * _blockSpans);
                appender.Column(2).SetInt64(row, Math.Min(rows, (long)(block + 1) * _blockSpans) - 1);
                if (lastPayload[block] >= 0)
                {
                    appender.Column(3).SetInt64(row, firstPayload[block]);
                    appender.Column(4).SetInt64(row, lastPayload[block]);
                }
                else
                {
                    appender.Column(3).SetNull(row);
                    appender.Column(4).SetNull(row);
                }
            }

            appender.Close();
        }

        connection.Execute(SegmentFormat.Copy("SELECT * FROM text_blocks", "block", path, rowGroupRows: null));
        connection.Execute("DROP TABLE text_blocks");
    }
}
