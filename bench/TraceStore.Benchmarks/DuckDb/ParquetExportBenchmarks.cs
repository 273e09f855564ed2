using BenchmarkDotNet.Attributes;
using TraceStore.Benchmarks.Infrastructure;
using TraceStore.DuckDb;

namespace TraceStore.Benchmarks.DuckDb;

/// <summary>
/// <c>COPY spans TO 'file.parquet' (FORMAT parquet, COMPRESSION ...)</c> for the same 1M span-like rows:
/// what sealing a segment costs. MB/s is raw input per second; file sizes are printed after the run.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(Macro5Config))]
public class ParquetExportBenchmarks
{
    private SpanRows _spans = null!;
    private DuckDbDatabase _database = null!;
    private DuckDbConnection _connection = null!;
    private string _folder = null!;

    [Params("zstd", "snappy")]
    public string Compression { get; set; } = "zstd";

    private string Target => Path.Combine(_folder, $"spans-{Compression}.parquet");

    [GlobalSetup]
    public void LoadTable()
    {
        _spans = new SpanRows(SpanTableBenchmark.Rows);
        _database = DuckDbDatabase.OpenInMemory(new DuckDbDatabaseOptions { Threads = 2 });
        _connection = _database.Connect();
        _connection.Execute(SpanRows.CreateTableSql);
        SpanTableBenchmark.AppendChunks(_connection, _spans);
        _folder = Directory.CreateTempSubdirectory("tracestore-bench-").FullName;
        ThroughputColumn.Record(nameof(CopyToParquet), _spans.Count, _spans.RawBytes, Compression);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        var bytes = new FileInfo(Target).Length;
        Console.WriteLine($"// parquet {Compression}: {bytes:N0} bytes for {_spans.RawBytes:N0} raw bytes (ratio {(double)_spans.RawBytes / bytes:F2})");
        _connection.Dispose();
        _database.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark]
    public long CopyToParquet() =>
        _connection.Execute($"COPY spans TO {DuckDbSql.Literal(Target)} (FORMAT parquet, COMPRESSION {Compression})");
}
