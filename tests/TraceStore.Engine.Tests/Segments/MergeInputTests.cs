using TraceStore.DuckDb;
using TraceStore.DuckDb.TableFunctions;
using TraceStore.Engine.Segments;
using TraceStore.Testing;

namespace TraceStore.Engine.Tests.Segments;

/// <summary>
/// How far DuckDB runs ahead of a merge input's streaming result (<see cref="MergeInput.Connect"/>): one chunk, however
/// long the rows' text, where a connection with DuckDB's default <c>streaming_buffer_size</c> runs ahead by the
/// chunks' fixed-width vectors only. Counted at the source: a C# table function that counts the chunks DuckDB asked it
/// for before the first chunk reached the reader.
/// </summary>
public sealed class MergeInputTests : IDisposable
{
    /// <summary>Rows of 1 KB of text: DuckDB counts 16 bytes of each against its streaming buffer.</summary>
    private const int TextBytes = 1024;

    private const long Rows = 100_000;

    private readonly TempDirectory _folder = new("merge-input");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void A_merge_inputs_connection_reads_one_chunk_ahead_however_long_its_rows_are()
    {
        using var database = SegmentScratch.OpenDatabase(256L << 20, _folder.Path);
        using var registration = database.Connect();
        var function = new LongTextFunction();
        registration.RegisterTableFunction(function);

        using (var merging = MergeInput.Connect(database))
        {
            Assert.InRange(ChunksFilledForTheFirst(merging, function), 1, 2);
        }

        // What the setting is for: at DuckDB's default, the same result runs many chunks (here 2 MB each) ahead.
        using var plain = database.Connect();
        Assert.True(ChunksFilledForTheFirst(plain, function) >= 10, "a default connection buffers many chunks ahead");
    }

    /// <summary>Opens a streaming result of <see cref="Rows"/> long rows on <paramref name="connection"/>, reads its
    /// first chunk and checks it, and returns how many chunks the source had filled by then.</summary>
    private static int ChunksFilledForTheFirst(DuckDbConnection connection, LongTextFunction function)
    {
        function.Filled = 0;
        using var result = connection.Query($"SELECT id, text FROM long_text({Rows})", Array.Empty<object?>());
        using (var first = result.NextChunk())
        {
            Assert.NotNull(first);
            Assert.Equal(DuckDbTableOutput.Capacity, first.RowCount);
            Assert.Equal(TextBytes, first[1].GetBytes(0).Length);
        }

        return function.Filled;
    }

    /// <summary><c>long_text(n)</c>: rows (id, text) of <see cref="TextBytes"/> bytes each, counting the chunks it fills.</summary>
    private sealed class LongTextFunction() : DuckDbTableFunction("long_text", DuckDbLogicalType.BigInt)
    {
        private static readonly string Text = new('x', TextBytes);

        private int _filled;

        public int Filled
        {
            get => Volatile.Read(ref _filled);
            set => Volatile.Write(ref _filled, value);
        }

        public override DuckDbTableBinding Bind(DuckDbTableFunctionArguments arguments)
        {
            var rows = arguments.GetInt64(0);
            return new DuckDbTableBinding(
                [new("id", DuckDbLogicalType.BigInt), new("text", DuckDbLogicalType.Varchar)],
                projection => new Scan(this, rows, projection),
                estimatedRows: rows);
        }

        private sealed class Scan(LongTextFunction function, long rows, IReadOnlyList<int> projection) : IDuckDbTableScan
        {
            private long _next;

            public int Fill(DuckDbTableOutput output)
            {
                var count = (int)Math.Min(DuckDbTableOutput.Capacity, rows - _next);
                for (var c = 0; c < projection.Count; c++)
                {
                    var column = output.Column(c);
                    for (var row = 0; row < count; row++)
                    {
                        if (projection[c] == 0)
                        {
                            column.SetInt64(row, _next + row);
                        }
                        else
                        {
                            column.SetString(row, Text);
                        }
                    }
                }

                _next += count;
                if (count > 0)
                {
                    Interlocked.Increment(ref function._filled);
                }

                return count;
            }
        }
    }
}
