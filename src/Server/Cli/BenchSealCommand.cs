using System.Buffers;
using System.CommandLine;
using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using TraceStore.Engine.Admission;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Segments;
using TraceStore.OtlpOracle;
using TraceStore.Protocol.Content;
using TraceStore.Protocol.Model;
using TraceStore.Protocol.Otlp;

namespace TraceStore.Server.Cli;

/// <summary>
/// <c>tracestore bench seal</c>: how fast sealed traces become Parquet segments, and how many bytes they take on disk.
/// For the decode benchmark's "small" (~400 B) and "genai" (~4 KB) spans, and "genai-text" (genai spans whose text
/// compresses like prose rather than 15 repeated words), in traces of <c>--spans-per-trace</c>: each
/// round decodes requests in advance (not timed; 64 distinct requests in turn, each with new ids: <see
/// cref="BenchRequests"/>), copies their spans into an
/// assembler (timed: "assemble") and lets a real <see cref="Sealer"/> write them as one segment with its catalog commit
/// (timed: "seal", the wall time of whole segments: ordering the rows, the four COPYs to Parquet, fsyncs, rename,
/// catalog). The configurations take turns round by round, so machine noise falls on all of them alike. Processor
/// time is reported beside wall time, since these machines are shared. A second table gives the ceiling: DuckDB's own
/// COPY of the same rows from prebuilt tables (<see cref="SealCeiling"/>).
/// </summary>
internal static class BenchSealCommand
{
    public static Command Create()
    {
        var seconds = new Option<double>("--seconds") { Description = "Measuring time per payload kind.", DefaultValueFactory = _ => 20 };
        var spansPerTrace = new Option<int>("--spans-per-trace") { Description = "Spans per trace.", DefaultValueFactory = _ => 10 };
        var format = new Option<string>("--format") { Description = "Output format.", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "json");
        var folder = new Option<DirectoryInfo?>("--data") { Description = "Folder to write in (default: a new folder under the system temp folder, deleted after)." };
        var kinds = new Option<string>("--kinds") { Description = "Payload kinds, comma-separated.", DefaultValueFactory = _ => $"{OtlpBenchmarkPayloads.Small},{OtlpBenchmarkPayloads.GenAi},{OtlpBenchmarkPayloads.GenAiVariedText}" };
        var only = new Option<string?>("--configurations") { Description = "Configurations to run, comma-separated names (default: all)." };
        var noCeiling = new Option<bool>("--no-ceiling") { Description = "Skip the DuckDB COPY ceiling table." };
        var breakdown = new Option<bool>("--breakdown") { Description = "Also print where each configuration's bytes go: per file and per column, in bytes per span." };
        var command = new Command("seal", "Measure sealing into Parquet segments: spans/s, bytes on disk per span and as a share of the OTLP bytes.")
        {
            seconds, spansPerTrace, format, folder, kinds, only, noCeiling, breakdown,
        };
        command.SetAction(result =>
        {
            var root = result.GetValue(folder)?.FullName ?? Path.Combine(Path.GetTempPath(), $"tracestore-bench-seal-{Guid.NewGuid():N}");
            Directory.CreateDirectory(root);
            try
            {
                var output = result.InvocationConfiguration.Output;
                var names = result.GetValue(only)?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                var chosen = names is null ? Configurations : [.. Configurations.Where(c => names.Contains(c.Name))];
                var (table, ceiling, bytes) = Run(
                    root,
                    TimeSpan.FromSeconds(Math.Max(1, result.GetValue(seconds))),
                    Math.Max(1, result.GetValue(spansPerTrace)),
                    output,
                    result.GetValue(kinds)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
                    chosen,
                    !result.GetValue(noCeiling),
                    result.GetValue(breakdown));
                if (result.GetValue(format) == "json")
                {
                    using StringWriter seal = new(), copy = new(), parts = new();
                    table.Write(seal, "json");
                    ceiling.Write(copy, "json");
                    bytes.Write(parts, "json");
                    output.WriteLine($"{{\"seal\": {seal.ToString().Trim()}, \"ceiling\": {copy.ToString().Trim()}, \"bytes\": {parts.ToString().Trim()}}}");
                }
                else
                {
                    table.Write(output, "table");
                    output.WriteLine();
                    output.WriteLine("The ceiling: one default-size segment's rows as DuckDB tables, COPYed alone (no ordering, no row production, no fsync; best of 3). spans/s: over the sum of the four files' COPY times; wall spans/s: over the wall time of all four:");
                    ceiling.Write(output, "table");
                    if (result.GetValue(breakdown))
                    {
                        output.WriteLine();
                        output.WriteLine("Where the bytes go (every segment each configuration wrote, warm-up rounds included): per file, then its columns' compressed chunks (parquet_metadata total_compressed_size):");
                        bytes.Write(output, "table");
                    }
                }
            }
            finally
            {
                if (result.GetValue(folder) is null)
                {
                    Directory.Delete(root, recursive: true);
                }
            }

            return 0;
        });
        return command;
    }

    /// <summary>One way of sealing, measured against the others.</summary>
    internal sealed record Configuration(string Name, SealerOptions Sealer, SegmentWriterOptions Writer);

    internal static IReadOnlyList<Configuration> Configurations { get; } =
    [
        new("defaults", new SealerOptions(), new SegmentWriterOptions()),
        new("no bloom filters", new SealerOptions(), new SegmentWriterOptions { BloomFilters = false }),
        new("zstd 1 without bloom filters", new SealerOptions(), new SegmentWriterOptions { ZstdLevel = 1, TracesZstdLevel = 1, AttrsZstdLevel = 1, PayloadsZstdLevel = 1, BloomFilters = false }),
        new("1 file at a time", new SealerOptions(), new SegmentWriterOptions { Threads = 1 }),
        new("8 MiB segments, 24 MiB DuckDB, 1 file", new SealerOptions { MaxSegmentBufferBytes = 8L << 20 }, new SegmentWriterOptions { MemoryLimitBytes = 24L << 20, Threads = 1 }),
        new("32 MiB segments", new SealerOptions { MaxSegmentBufferBytes = 32L << 20 }, new SegmentWriterOptions()),
        new("128 MiB segments", new SealerOptions { MaxSegmentBufferBytes = 128L << 20 }, new SegmentWriterOptions()),
        new("text index", new SealerOptions(), new SegmentWriterOptions { TextIndex = true }),
        new("zstd 3 (the old defaults)", new SealerOptions(), new SegmentWriterOptions { ZstdLevel = 3, TracesZstdLevel = 3, AttrsZstdLevel = 3, PayloadsZstdLevel = 3 }),
        new("spans+traces 1, attrs 9", new SealerOptions(), new SegmentWriterOptions { ZstdLevel = 1, TracesZstdLevel = 1, AttrsZstdLevel = 9, PayloadsZstdLevel = 3 }),
        new("zstd 1", new SealerOptions(), new SegmentWriterOptions { ZstdLevel = 1, TracesZstdLevel = 1, AttrsZstdLevel = 1, PayloadsZstdLevel = 1 }),
        new("spans+traces 1, attrs 15", new SealerOptions(), new SegmentWriterOptions { ZstdLevel = 1, TracesZstdLevel = 1, AttrsZstdLevel = 15 }),
        new("zstd 9", new SealerOptions(), new SegmentWriterOptions { ZstdLevel = 9, TracesZstdLevel = 9, AttrsZstdLevel = 9, PayloadsZstdLevel = 9 }),
        new("payloads zstd 9", new SealerOptions(), new SegmentWriterOptions { PayloadsZstdLevel = 9 }),
        new("payloads zstd 15", new SealerOptions(), new SegmentWriterOptions { PayloadsZstdLevel = 15 }),
    ];

    private static (BenchTable Seal, BenchTable Ceiling, BenchTable Bytes) Run(string root, TimeSpan perKind, int spansPerTrace, TextWriter progress, IReadOnlyList<string> kinds, IReadOnlyList<Configuration> configurations, bool withCeiling, bool withBreakdown)
    {
        var bytes = new BenchTable(
            ("payload", "payload", -10),
            ("configuration", "configuration", -38),
            ("file", "file", -18),
            ("column", "column", -28),
            ("B/span", "disk_bytes_per_span", 9),
            ("% of file", "percent_of_file", 9),
            ("% of OTLP", "percent_of_otlp", 9));
        var ceiling = new BenchTable(
            ("payload", "payload", -10),
            ("DuckDB COPY of prebuilt tables", "parquet_options", -38),
            ("spans", "spans", 7),
            ("spans/s", "copy_spans_per_second", 10),
            ("wall spans/s", "copy_spans_per_wall_second", 13),
            ("B/span", "disk_bytes_per_span", 7),
            ("spans ms", "spans_copy_ms", 9),
            ("payl ms", "payloads_copy_ms", 8),
            ("attrs ms", "attrs_copy_ms", 9),
            ("trace ms", "traces_copy_ms", 9),
            ("spans B", "spans_bytes_per_span", 8),
            ("payl B", "payloads_bytes_per_span", 8),
            ("attrs B", "attrs_bytes_per_span", 8),
            ("trace B", "traces_bytes_per_span", 8));
        var table = new BenchTable(
            ("payload", "payload", -10),
            ("configuration", "configuration", -38),
            ("segments", "segments", 8),
            ("spans/seg", "spans_per_segment", 10),
            ("seal spans/s", "seal_spans_per_second", 13),
            ("median", "seal_spans_per_second_median", 10),
            ("per CPU-s", "seal_spans_per_cpu_second", 11),
            ("OTLP MB/s", "seal_otlp_megabytes_per_second", 10),
            ("B/span", "disk_bytes_per_span", 8),
            ("% of OTLP", "disk_percent_of_otlp", 9),
            ("assemble/s", "assemble_spans_per_second", 11),
            ("order%", "time_percent_ordering", 7),
            ("copy%", "time_percent_copy_wall", 7),
            ("fill%", "time_percent_producing_rows", 7),
            ("spans%", "time_percent_spans_copy", 7),
            ("payl%", "time_percent_payloads_copy", 7),
            ("attrs%", "time_percent_attrs_copy", 7),
            ("trace%", "time_percent_traces_copy", 7),
            ("text%", "time_percent_text_index", 7),
            ("sync%", "time_percent_sync", 7),
            ("other%", "time_percent_other", 7));
        progress.WriteLine($"bench seal: {spansPerTrace} spans per trace, {perKind.TotalSeconds:F0} s per payload kind, {Environment.ProcessorCount} cores, load average {LoadAverage()}");
        foreach (var kind in kinds)
        {
            var request = new BenchRequests(kind, spansPerTrace);
            var contenders = configurations.Select((c, i) => new Contender(c, Path.Combine(root, $"{kind}-{i}"))).ToList();
            try
            {
                using var decoder = new OtlpRequestDecoder();
                foreach (var contender in contenders)
                {
                    // Warm-up rounds, not counted: JIT, DuckDB's first statements, and sizing rounds to one segment.
                    contender.Round(request, decoder, count: false);
                    contender.Round(request, decoder, count: false);
                }

                var clock = Stopwatch.StartNew();
                for (var round = 0; contenders.Any(c => c.Failure is null) && (clock.Elapsed < perKind || contenders.Any(c => c.Failure is null && c.Rounds < 3)); round++)
                {
                    contenders[round % contenders.Count].Round(request, decoder, count: true);
                }

                var otlpPerSpan = request.BytesPerSpan;
                foreach (var c in contenders)
                {
                    if (c.Failure is { } failure)
                    {
                        progress.WriteLine($"{kind} / {c.Configuration.Name}: failed: {failure}");
                        continue;
                    }

                    var spans = (double)c.Spans;
                    var seal = c.Seal.TotalSeconds;
                    double Percent(TimeSpan part) => 100 * part.TotalSeconds / seal;
                    table.Add(
                        kind,
                        c.Configuration.Name,
                        c.Segments,
                        (long)(spans / c.Segments),
                        spans / seal,
                        BenchIngestCommand.Median(c.RoundRates),
                        spans / c.SealCpu.TotalSeconds,
                        spans * otlpPerSpan / seal / 1e6,
                        c.Bytes / spans,
                        100 * c.Bytes / (spans * otlpPerSpan),
                        spans / c.Assemble.TotalSeconds,
                        Percent(c.Phases.Order),
                        Percent(c.Phases.CopyWall),
                        Percent(c.Phases.Produce),
                        Percent(c.Phases.Spans),
                        Percent(c.Phases.Payloads),
                        Percent(c.Phases.Attrs),
                        Percent(c.Phases.Traces),
                        Percent(c.Phases.Text),
                        Percent(c.Phases.Sync),
                        Percent(c.Seal - c.Phases.Total));
                    if (withBreakdown)
                    {
                        var stored = (double)c.StoredSpans;
                        foreach (var file in SegmentBytes.Measure(c.SegmentsFolder).GroupBy(p => p.File))
                        {
                            var total = file.Sum(p => p.Bytes);
                            bytes.Add(kind, c.Configuration.Name, file.Key, "= whole file", total / stored, 100.0, 100 * total / (stored * otlpPerSpan));
                            foreach (var part in file)
                            {
                                bytes.Add(kind, c.Configuration.Name, file.Key, part.Column, part.Bytes / stored, 100.0 * part.Bytes / Math.Max(1, total), 100 * part.Bytes / (stored * otlpPerSpan));
                            }
                        }
                    }
                }
            }
            finally
            {
                foreach (var contender in contenders)
                {
                    contender.Dispose();
                }
            }

            if (withCeiling)
            {
                Ceiling(kind, request, Path.Combine(root, $"{kind}-ceiling"), ceiling);
            }
        }

        return (table, ceiling, bytes);
    }

    /// <summary>DuckDB alone on one default-size segment's rows (<see cref="SealCeiling"/>): with the writer's Parquet
    /// options, with cheaper ones (to show what zstd's level, bloom filters and compression cost), and with the files
    /// spread over two threads, the writer's way (two files at once) or DuckDB's (two threads encoding one file's row
    /// groups, which a prebuilt table allows and our single-threaded table functions do not).</summary>
    private static void Ceiling(string kind, BenchRequests request, string folder, BenchTable table)
    {
        var traces = Traces(request, new SealerOptions().MaxSegmentBufferBytes);
        var spans = traces.Sum(t => t.Spans.Count);
        const string v2 = "COMPRESSION zstd, PARQUET_VERSION V2";
        var serial = SealCeiling.Parallelism.Serial;
        var twoFiles = new SealCeiling.Parallelism(DuckDbThreads: 1, FilesAtOnce: 2);
        var twoThreads = new SealCeiling.Parallelism(DuckDbThreads: 2, FilesAtOnce: 1);
        var variants = new (string Name, string? Options, SealCeiling.Parallelism Parallelism, int RowGroupFactor)[]
        {
            ("writer's options (zstd per file, v2 pages)", null, serial, 1),
            ("writer's, 2 files at once", null, twoFiles, 1),
            ("writer's, 2 DuckDB threads per file", null, twoThreads, 1),
            ("zstd 3 (DuckDB's default)", v2, serial, 1),
            ("zstd level 1", $"{v2}, COMPRESSION_LEVEL 1", serial, 1),
            ("zstd level 9", $"{v2}, COMPRESSION_LEVEL 9", serial, 1),
            ("no bloom filters", $"{v2}, WRITE_BLOOM_FILTER false", serial, 1),
            ("zstd 1, no bloom", $"{v2}, COMPRESSION_LEVEL 1, WRITE_BLOOM_FILTER false", serial, 1),
            ("zstd 1, no bloom, 2 files at once", $"{v2}, COMPRESSION_LEVEL 1, WRITE_BLOOM_FILTER false", twoFiles, 1),
            ("zstd 1, no bloom, 2 DuckDB threads", $"{v2}, COMPRESSION_LEVEL 1, WRITE_BLOOM_FILTER false", twoThreads, 1),
            ("zstd 3, bloom filter fpp 0.1", $"{v2}, BLOOM_FILTER_FALSE_POSITIVE_RATIO 0.1", serial, 1),
            ("zstd 3, no dictionaries", $"{v2}, DICTIONARY_SIZE_LIMIT 1", serial, 1),
            ("zstd 3, row groups x4", v2, serial, 4),
            ("zstd 3, v1 pages", "COMPRESSION zstd", serial, 1),
            ("snappy", "COMPRESSION snappy, PARQUET_VERSION V2", serial, 1),
            ("uncompressed", "COMPRESSION uncompressed, PARQUET_VERSION V2", serial, 1),
            ("uncompressed, no bloom, 2 files", "COMPRESSION uncompressed, PARQUET_VERSION V2, WRITE_BLOOM_FILTER false", twoFiles, 1),
        };
        foreach (var (name, options, parallelism, factor) in variants)
        {
            try
            {
                var (results, wall) = SealCeiling.Measure(traces, folder, repeats: 3, options is null ? null : (i, select, path) =>
                {
                    var rowGroup = SegmentFormat.WrittenFiles[i].RowGroupRows is { } n ? $", ROW_GROUP_SIZE {n * factor}" : "";
                    return $"COPY ({select}) TO '{path}' (FORMAT parquet, {options}{rowGroup})";
                }, parallelism);
                var seconds = results.Sum(r => r.Copy.TotalSeconds);
                double Ms(string file) => results.Single(r => r.File == file).Copy.TotalMilliseconds;
                double PerSpan(string file) => results.Single(r => r.File == file).Bytes / (double)spans;
                table.Add(
                    kind, name, spans, spans / seconds, spans / wall.TotalSeconds, results.Sum(r => r.Bytes) / (double)spans,
                    Ms(SegmentFormat.SpansFile), Ms(SegmentFormat.PayloadsFile), Ms(SegmentFormat.AttrsFile), Ms(SegmentFormat.TracesFile),
                    PerSpan(SegmentFormat.SpansFile), PerSpan(SegmentFormat.PayloadsFile), PerSpan(SegmentFormat.AttrsFile), PerSpan(SegmentFormat.TracesFile));
            }
            catch (DuckDb.DuckDbException e)
            {
                table.Add(kind, $"{name}: failed: {e.Message.Split('\n')[0]}", spans, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
            }
        }
    }

    /// <summary>The traces of new requests of about <paramref name="bufferBytes"/> of trace buffers, assembled.</summary>
    private static List<TraceBuffer> Traces(BenchRequests requests, long bufferBytes)
    {
        var assembler = new SpanAssembler(new AssemblerOptions(), new MemoryBudget(64L << 30));
        using var decoder = new OtlpRequestDecoder();
        var batch = new SpanBatch();
        for (long grown = 0; grown < bufferBytes;)
        {
            decoder.Decode(new ReadOnlySequence<byte>(requests.Next().Body), OtlpPayloadFormat.Protobuf, OtlpContentEncoding.Identity, batch);
            grown += assembler.Add(batch, "0", 1).GrownBytes;
        }

        return [.. assembler.TakeAll().Select(t => t.Buffer)];
    }

    internal static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    /// <summary>One configuration's store (catalog, writer, sealer, assembler) and what it measured.</summary>
    private sealed class Contender : IDisposable
    {
        private readonly MemoryBudget _budget = new(64L << 30);
        private readonly SpanAssembler _assembler;
        private readonly SegmentCatalog _catalog;
        private readonly SegmentWriter _writer;
        private readonly Sealer _sealer;
        private readonly List<SpanBatch> _batches = [];
        private long _walSequence;
        private long _requestsPerSegment;

        public Contender(Configuration configuration, string folder)
        {
            Configuration = configuration;
            Directory.CreateDirectory(folder);
            _assembler = new SpanAssembler(new AssemblerOptions(), _budget);
            _catalog = SegmentCatalog.Open(folder);
            _writer = new SegmentWriter(_catalog.SegmentsFolder, configuration.Writer);
            _sealer = new Sealer(_assembler, _budget, _writer, _catalog, () => { }, configuration.Sealer, NullLogger.Instance);
        }

        public Configuration Configuration { get; }

        public string SegmentsFolder => _catalog.SegmentsFolder;

        /// <summary>Spans in every segment written, warm-up rounds included (what <see cref="SegmentsFolder"/> holds).</summary>
        public long StoredSpans => _catalog.Segments().Sum(s => s.Spans);

        public int Rounds { get; private set; }

        public long Segments { get; private set; }

        public long Spans { get; private set; }

        public long Bytes { get; private set; }

        public TimeSpan Assemble { get; private set; }

        public TimeSpan Seal { get; private set; }

        /// <summary>Processor time of the whole process while sealing (every thread): on a loaded machine, wall time
        /// includes waiting for a core, processor time does not.</summary>
        public TimeSpan SealCpu { get; private set; }

        public SegmentWriteProfile Phases { get; private set; } = SegmentWriteProfile.Zero;

        public List<double> RoundRates { get; } = [];

        /// <summary>Why sealing failed (the configuration then leaves the rotation), e.g. DuckDB out of memory.</summary>
        public string? Failure { get; private set; }

        /// <summary>Decodes enough new requests for one segment (not timed), assembles them and seals them.</summary>
        public void Round(BenchRequests pool, OtlpRequestDecoder decoder, bool count)
        {
            if (Failure is not null)
            {
                return;
            }

            var requests = _requestsPerSegment == 0 ? 1 : _requestsPerSegment;
            while (_batches.Count < requests)
            {
                _batches.Add(new SpanBatch());
            }

            for (var i = 0; i < requests; i++)
            {
                decoder.Decode(new ReadOnlySequence<byte>(pool.Next().Body), OtlpPayloadFormat.Protobuf, OtlpContentEncoding.Identity, _batches[i]);
            }

            var started = Stopwatch.GetTimestamp();
            long spans = 0, grown = 0;
            for (var i = 0; i < requests; i++)
            {
                grown += _assembler.Add(_batches[i], "0", ++_walSequence).GrownBytes;
                spans += _batches[i].Spans.Count;
            }

            var assembled = Stopwatch.GetTimestamp();
            var segmentsBefore = _sealer.SegmentsWritten;
            var bytesBefore = _catalog.Segments().Sum(s => s.Bytes);
            var profileBefore = _writer.Profile;
            var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            _sealer.SealNow(everything: true);
            var sealedAt = Stopwatch.GetTimestamp();
            var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
            if (_sealer.LastError is { } error)
            {
                Failure = error.Message.Split('\n')[0];
                return;
            }

            if (_requestsPerSegment == 0)
            {
                // One request's buffers tell how many requests fill one segment of this configuration.
                _requestsPerSegment = Math.Max(1, Configuration.Sealer.MaxSegmentBufferBytes / Math.Max(1, grown));
            }

            if (!count)
            {
                return;
            }

            Rounds++;
            Segments += _sealer.SegmentsWritten - segmentsBefore;
            Spans += spans;
            Bytes += _catalog.Segments().Sum(s => s.Bytes) - bytesBefore;
            Assemble += Stopwatch.GetElapsedTime(started, assembled);
            var seal = Stopwatch.GetElapsedTime(assembled, sealedAt);
            Seal += seal;
            SealCpu += cpu;
            Phases = Phases.Plus(_writer.Profile.Minus(profileBefore));
            RoundRates.Add(spans / seal.TotalSeconds);
        }

        public void Dispose()
        {
            _sealer.DisposeAsync().AsTask().GetAwaiter().GetResult();
            _writer.Dispose();
            _catalog.Dispose();
        }
    }
}
