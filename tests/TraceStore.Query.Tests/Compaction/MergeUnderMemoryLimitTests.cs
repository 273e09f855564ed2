using System.Buffers;
using Microsoft.Extensions.Logging.Abstractions;
using TraceStore.DuckDb;
using TraceStore.Engine.Admission;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Segments;
using TraceStore.OtlpOracle;
using TraceStore.Protocol.Content;
using TraceStore.Protocol.Model;
using TraceStore.Protocol.Otlp;
using TraceStore.Testing;

namespace TraceStore.Query.Tests.Compaction;

/// <summary>
/// A merge whose inputs are many times its DuckDB memory limit (64 MiB against more than 100 MB of OTLP spans, about
/// 280,000 small spans with a dozen attributes each; or 16,500 GenAI spans with their prompts and completions, whose
/// payload row groups were 14-16 MiB each at 8,192 rows) must complete and keep every span, payload and attribute on
/// the span it belongs to; payload files, sealed and merged, keep row groups of at most
/// <see cref="SegmentFormat.PayloadRowGroupRows"/> rows (what a merge's readers hold, one per input). Guards the k-way merge (<see cref="SortedMerge"/>) and the renumbering of attrs' span rows:
/// compared by counts and by order-independent hashes of (trace_id, span_id, key, value) over attrs joined to spans by
/// row, before and after, computed in a separate DuckDB without a limit.
/// </summary>
public sealed class MergeUnderMemoryLimitTests : IDisposable
{
    /// <summary>The memory limit under which the sorting merge failed on GenAI inputs of any size (2026-11-22).</summary>
    private const long MemoryLimit = 64L << 20;
    private const int Segments = 6;

    private readonly TempDirectory _folder = new("merge-memory-limit");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void A_merge_of_inputs_far_above_its_memory_limit_keeps_every_span_and_attribute() =>
        MergeKeepsEverything(OtlpBenchmarkPayloads.Small, requestsPerSegment: 18, spansPerRequest: 2600, minOtlpBytes: 100_000_000);

    [Fact]
    public void A_merge_of_GenAI_inputs_far_above_its_memory_limit_keeps_every_span_payload_and_attribute() =>
        MergeKeepsEverything(OtlpBenchmarkPayloads.GenAi, requestsPerSegment: 11, spansPerRequest: 250, minOtlpBytes: 50_000_000);

    private void MergeKeepsEverything(string kind, int requestsPerSegment, int spansPerRequest, long minOtlpBytes)
    {
        using var catalog = SegmentCatalog.Open(_folder.Path);
        var otlpBytes = SealSegments(catalog, kind, requestsPerSegment);
        var inputs = catalog.Segments();
        Assert.Equal(Segments, inputs.Count);
        Assert.Equal((long)Segments * requestsPerSegment * spansPerRequest, inputs.Sum(s => s.Spans));
        Assert.True(otlpBytes > minOtlpBytes, $"only {otlpBytes} bytes of OTLP spans");
        var before = FingerprintOf(inputs);
        Assert.True(before.Attrs > before.Spans, "every span has several attributes");
        var sealedPayloads = before.Payloads > 0 ? inputs.Select(LargestPayloadRowGroup).ToList() : [];

        using var compactor = new SegmentCompactor(catalog, MemoryLimit);
        var merged = compactor.Merge(inputs);

        Assert.NotNull(merged);
        Assert.Equal([merged.SealSequence], catalog.Segments().Select(s => s.SealSequence));
        Assert.Equal(inputs.Sum(s => s.Spans), merged.Spans);
        Assert.Equal(inputs.Sum(s => s.Traces), merged.Traces);
        var after = FingerprintOf([merged]);
        Assert.Equal(before, after);
        if (after.Payloads > 0)
        {
            Assert.All(sealedPayloads, sealedFile => Assert.Equal(SegmentFormat.PayloadRowGroupRows, sealedFile.Rows));
            var (rows, groups) = LargestPayloadRowGroup(merged);
            Assert.Equal(SegmentFormat.PayloadRowGroupRows, rows);
            Assert.True(groups > 1, "the merged payloads fill several row groups");
        }
    }

    /// <summary>The most rows in one row group of <paramref name="segment"/>'s payloads file, and its row groups.</summary>
    private static (long Rows, long Groups) LargestPayloadRowGroup(SegmentInfo segment)
    {
        using var database = DuckDbDatabase.OpenInMemory();
        using var connection = database.Connect();
        using var result = connection.Query(
            "SELECT max(row_group_num_rows), count(DISTINCT row_group_id) FROM parquet_metadata($1)", Path.Combine(segment.Folder, SegmentFormat.PayloadsFile));
        var row = result.ReadAllRows().Single();
        return ((long)row[0]!, (long)row[1]!);
    }

    /// <summary>Counts and hash sums of one or more segments' files. <c>AttrsHash</c> is over attrs joined to spans by
    /// row (what the merge re-links); <c>MapHash</c> over the spans' own attribute maps (what those rows must match).</summary>
    private sealed record Fingerprint(long Spans, string SpansHash, long Attrs, string AttrsHash, long MapEntries, string MapHash, long Payloads, string PayloadsHash);

    private static Fingerprint FingerprintOf(IReadOnlyList<SegmentInfo> segments)
    {
        using var database = DuckDbDatabase.OpenInMemory();
        using var connection = database.Connect();
        string Files(string name) => "[" + string.Join(", ", segments.Select(s => DuckDbSql.Literal(Path.Combine(s.Folder, name)))) + "]";
        const string Folder = "regexp_extract(filename, 'seg-[0-9]+')";
        var spans = $"SELECT *, {Folder} AS f FROM read_parquet({Files(SegmentFormat.SpansFile)}, filename = true, file_row_number = true)";
        var attrs = $"SELECT key, value, span_row, {Folder} AS f FROM read_parquet({Files(SegmentFormat.AttrsFile)}, filename = true)";
        using var result = connection.Query($"""
            SELECT
                (SELECT count(*) FROM ({spans})),
                (SELECT CAST(sum(hash(trace_id, span_id, name, start_time_ns, end_time_ns)) AS VARCHAR) FROM ({spans})),
                (SELECT count(*) FROM ({attrs})),
                (SELECT CAST(sum(hash(s.trace_id, s.span_id, a.key, a.value)) AS VARCHAR)
                    FROM ({attrs}) a JOIN ({spans}) s ON s.f = a.f AND s.file_row_number = a.span_row),
                (SELECT count(*) FROM ({spans}), unnest(map_entries(attributes)) AS t(e)),
                (SELECT CAST(sum(hash(trace_id, span_id, e.key, e.value)) AS VARCHAR) FROM ({spans}), unnest(map_entries(attributes)) AS t(e)),
                (SELECT count(*) FROM read_parquet({Files(SegmentFormat.PayloadsFile)})),
                (SELECT CAST(sum(hash(p)) AS VARCHAR) FROM read_parquet({Files(SegmentFormat.PayloadsFile)}) p)
            """);
        var r = result.ReadAllRows().Single();
        var fingerprint = new Fingerprint((long)r[0]!, (string)r[1]!, (long)r[2]!, (string)r[3]!, (long)r[4]!, (string)r[5]!, (long)r[6]!, (string)r[7]!);

        // The join found a span for every attrs row, and the rows carry exactly the spans' own attribute maps.
        Assert.Equal(fingerprint.MapEntries, fingerprint.Attrs);
        Assert.Equal(fingerprint.MapHash, fingerprint.AttrsHash);
        return fingerprint;
    }

    /// <summary>Seals <see cref="Segments"/> segments of the benchmark's spans of <paramref name="kind"/> (small:
    /// HTTP-style, about a dozen attributes each; GenAI: prompts and completions of a few KB; distinct requests, new ids
    /// each time, so no span repeats); returns the OTLP bytes of all their spans.</summary>
    private static long SealSegments(SegmentCatalog catalog, string kind, int requestsPerSegment)
    {
        var requests = Enumerable.Range(1, 8)
            .Select(seed => new RenewableRequest(Google.Protobuf.MessageExtensions.ToByteArray(OtlpBenchmarkPayloads.Create(kind, seed, spansPerTrace: 10))))
            .ToArray();
        var budget = new MemoryBudget(8L << 30);
        var assembler = new SpanAssembler(new AssemblerOptions(), budget);
        using var writer = new SegmentWriter(catalog.SegmentsFolder);
        var sealer = new Sealer(assembler, budget, writer, catalog, () => { }, new SealerOptions(), NullLogger.Instance);
        try
        {
            using var decoder = new OtlpRequestDecoder();
            var batch = new SpanBatch();
            long otlp = 0, walSequence = 0;
            for (var segment = 0; segment < Segments; segment++)
            {
                for (var i = 0; i < requestsPerSegment; i++)
                {
                    var request = requests[(int)(walSequence % requests.Length)];
                    request.Renew();
                    decoder.Decode(new ReadOnlySequence<byte>(request.Body), OtlpPayloadFormat.Protobuf, OtlpContentEncoding.Identity, batch);
                    assembler.Add(batch, "exp", ++walSequence);
                    otlp += request.Body.Length;
                }

                Assert.True(sealer.SealNow(everything: true) > 0);
                Assert.Null(sealer.LastError);
            }

            return otlp;
        }
        finally
        {
            sealer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }
}
