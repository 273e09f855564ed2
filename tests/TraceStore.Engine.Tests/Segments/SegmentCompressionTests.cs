using Google.Protobuf;
using TraceStore.DuckDb;
using TraceStore.Engine.Admission;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Segments;
using TraceStore.OtlpOracle;
using TraceStore.Testing;

namespace TraceStore.Engine.Tests.Segments;

/// <summary>The zstd levels of <see cref="SegmentWriterOptions"/>: they reach the files they name, and change bytes
/// only, never what the files hold or its order.</summary>
public sealed class SegmentCompressionTests : IDisposable
{
    private static readonly string[] Files = [SegmentFormat.SpansFile, SegmentFormat.PayloadsFile, SegmentFormat.AttrsFile, SegmentFormat.TracesFile];

    private readonly TempDirectory _folder = new("segment-compression");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Every_level_writes_the_same_rows_in_the_same_order_and_the_levels_reach_their_files()
    {
        // One set of buffers written four times (each decode of a request would give it new timestamps).
        var traces = Traces();
        var written = new Dictionary<string, SegmentInfo>();
        foreach (var (name, options) in new (string, SegmentWriterOptions)[]
        {
            ("defaults", new SegmentWriterOptions()),
            ("fast", new SegmentWriterOptions { ZstdLevel = 1, TracesZstdLevel = 1, AttrsZstdLevel = 1, PayloadsZstdLevel = 1 }),
            ("small spans", new SegmentWriterOptions { ZstdLevel = 19, TracesZstdLevel = 1, AttrsZstdLevel = 1, PayloadsZstdLevel = 1 }),
            ("small traces", new SegmentWriterOptions { ZstdLevel = 1, TracesZstdLevel = 19, AttrsZstdLevel = 1, PayloadsZstdLevel = 1 }),
            ("small attrs", new SegmentWriterOptions { ZstdLevel = 1, TracesZstdLevel = 1, AttrsZstdLevel = 19, PayloadsZstdLevel = 1 }),
            ("small payloads", new SegmentWriterOptions { ZstdLevel = 1, TracesZstdLevel = 1, AttrsZstdLevel = 1, PayloadsZstdLevel = 19 }),
        })
        {
            using var writer = new SegmentWriter(Path.Combine(_folder.Path, name), options);
            written[name] = writer.Write(sealSequence: 1, traces);
        }

        using var database = DuckDbDatabase.OpenInMemory();
        using var connection = database.Connect();
        var reference = written["defaults"];
        foreach (var (name, info) in written)
        {
            Assert.Equal(reference.Spans, info.Spans);
            foreach (var file in Files)
            {
                // Row for row (file_row_number pairs them), every column equal: EXCEPT ALL both ways is empty.
                var a = $"SELECT * FROM read_parquet({File(reference, file)}, file_row_number = true)";
                var b = $"SELECT * FROM read_parquet({File(info, file)}, file_row_number = true)";
                Assert.Equal(Scalar(connection, $"SELECT count(*) FROM ({a})"), Scalar(connection, $"SELECT count(*) FROM ({b})"));
                Assert.Equal(0, Scalar(connection, $"SELECT count(*) FROM ({a} EXCEPT ALL {b})"));
                Assert.Equal(0, Scalar(connection, $"SELECT count(*) FROM ({b} EXCEPT ALL {a})"));
                Assert.Equal(0, Scalar(connection, $"SELECT count(*) FROM parquet_metadata({File(info, file)}) WHERE compression <> 'ZSTD'"));
            }
        }

        // Level 19 against level 1 on the same rows: smaller exactly where it was asked for, byte for byte the same elsewhere.
        foreach (var (name, smaller) in new[] { ("small spans", SegmentFormat.SpansFile), ("small traces", SegmentFormat.TracesFile), ("small attrs", SegmentFormat.AttrsFile), ("small payloads", SegmentFormat.PayloadsFile) })
        {
            foreach (var file in Files)
            {
                var fast = System.IO.File.ReadAllBytes(Path.Combine(written["fast"].Folder, file));
                var other = System.IO.File.ReadAllBytes(Path.Combine(written[name].Folder, file));
                if (file == smaller)
                {
                    Assert.True(other.Length < fast.Length, $"{name}: {file} {other.Length} >= {fast.Length}");
                }
                else
                {
                    Assert.Equal(fast, other);
                }
            }
        }
    }

    [Theory]
    [InlineData(0, 3, 3, 3)]
    [InlineData(23, 3, 3, 3)]
    [InlineData(3, 0, 3, 3)]
    [InlineData(3, 23, 3, 3)]
    [InlineData(3, 3, 0, 3)]
    [InlineData(3, 3, 23, 3)]
    [InlineData(3, 3, 3, 0)]
    [InlineData(3, 3, 3, 23)]
    public void Levels_outside_zstds_range_are_refused(int level, int tracesLevel, int attrsLevel, int payloadsLevel)
    {
        var options = new SegmentWriterOptions { ZstdLevel = level, TracesZstdLevel = tracesLevel, AttrsZstdLevel = attrsLevel, PayloadsZstdLevel = payloadsLevel };
        Assert.Throws<ArgumentOutOfRangeException>(() => options.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new SegmentWriter(_folder.Path, options));
    }

    [Fact]
    public void The_defaults_are_the_measured_levels_and_compaction_writes_with_them()
    {
        var options = new SegmentWriterOptions();
        Assert.Equal(SegmentFormat.ZstdLevel, options.ZstdLevelOf(SegmentFormat.SpansFile));
        Assert.Equal(SegmentFormat.TracesZstdLevel, options.ZstdLevelOf(SegmentFormat.TracesFile));
        Assert.Equal(SegmentFormat.AttrsZstdLevel, options.ZstdLevelOf(SegmentFormat.AttrsFile));
        Assert.Equal(SegmentFormat.PayloadsZstdLevel, options.ZstdLevelOf(SegmentFormat.PayloadsFile));

        // What compaction and the text index write (SegmentFormat.Copy without a level): each file at its default level,
        // byte for byte what the writer's defaults give for the same rows.
        using var database = DuckDbDatabase.OpenInMemory();
        using var connection = database.Connect();
        connection.Execute("CREATE TABLE t AS SELECT i, 'value ' || (i % 97) AS v, md5(i::VARCHAR) AS h FROM range(20000) r(i)");
        foreach (var file in Files)
        {
            var byDefault = Path.Combine(_folder.Path, "default-" + file);
            var explicitLevel = Path.Combine(_folder.Path, "explicit-" + file);
            connection.Execute(SegmentFormat.Copy("SELECT * FROM t", "i", Path.Combine(_folder.Path, file), rowGroupRows: null));
            connection.Execute(SegmentFormat.Copy("SELECT * FROM t", "i", explicitLevel, rowGroupRows: null, options.ZstdLevelOf(file)));
            System.IO.File.Move(Path.Combine(_folder.Path, file), byDefault);
            Assert.Equal(System.IO.File.ReadAllBytes(explicitLevel), System.IO.File.ReadAllBytes(byDefault));
        }
    }

    /// <summary>Small spans (many attribute rows, several row groups' worth of chunks) and GenAI spans with payloads.</summary>
    private static List<TraceBuffer> Traces()
    {
        var assembler = new SpanAssembler(new AssemblerOptions(), new MemoryBudget(1L << 30));
        var small = new RenewableRequest(OtlpBenchmarkPayloads.Create(OtlpBenchmarkPayloads.Small, seed: 5, spansPerTrace: 10).ToByteArray());
        var genai = new RenewableRequest(OtlpBenchmarkPayloads.Create(OtlpBenchmarkPayloads.GenAiVariedText, seed: 6, spansPerTrace: 5).ToByteArray());
        assembler.Add(DecodedBatches.Decode(small.Body), "0", walSequence: 1);
        assembler.Add(DecodedBatches.Decode(genai.Body), "0", walSequence: 2);
        return [.. assembler.TakeAll().Select(t => t.Buffer)];
    }

    private static string File(SegmentInfo info, string name) => DuckDbSql.Literal(Path.Combine(info.Folder, name));

    private static long Scalar(DuckDbConnection connection, string sql)
    {
        using var result = connection.Query(sql);
        return Convert.ToInt64(result.ReadAllRows()[0][0], System.Globalization.CultureInfo.InvariantCulture);
    }
}
