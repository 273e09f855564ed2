using Google.Protobuf;
using TraceStore.DuckDb;
using TraceStore.Engine.Admission;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Segments;
using TraceStore.Engine.Tests.Assembly;
using TraceStore.OtlpOracle;
using TraceStore.Testing;

namespace TraceStore.Engine.Tests.Segments;

public sealed class SegmentWriterTests : IDisposable
{
    private readonly TempDirectory _folder = new("segments");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Captured_payloads_become_a_segment_whose_files_hold_every_span_once_sorted_and_versioned()
    {
        var assembler = new SpanAssembler(new AssemblerOptions(), new MemoryBudget(256L << 20));
        var expectedSpans = 0;
        foreach (var file in TestPayloads.All.Where(f => f.SpanCount > 0))
        {
            expectedSpans += assembler.Add(DecodedBatches.Decode(file), "0", walSequence: 1).Added;
        }

        var traces = assembler.TakeAll().Select(t => t.Buffer).ToList();
        using var writer = new SegmentWriter(_folder.Path);
        var info = writer.Write(sealSequence: 7, traces);

        Assert.Equal(Path.Combine(_folder.Path, "seg-00000000000000000007"), info.Folder);
        Assert.Equal(expectedSpans, info.Spans);
        Assert.Equal(traces.Count, info.Traces);
        Assert.Empty(Directory.GetDirectories(_folder.Path, "*.tmp"));
        using var database = DuckDbDatabase.OpenInMemory();
        using var connection = database.Connect();
        var spans = Scalar(connection, $"SELECT count(*) FROM read_parquet({File(info, SegmentFormat.SpansFile)})");
        var distinct = Scalar(connection, $"SELECT count(DISTINCT (trace_id, span_id)) FROM read_parquet({File(info, SegmentFormat.SpansFile)})");
        Assert.Equal(expectedSpans, spans);
        Assert.Equal(expectedSpans, distinct);

        // Sorted by trace id: row order equals sorted order.
        var unsorted = Scalar(connection, $"SELECT count(*) FROM (SELECT trace_id, lag(trace_id) OVER () AS previous FROM read_parquet({File(info, SegmentFormat.SpansFile)})) WHERE previous > trace_id");
        Assert.Equal(0, unsorted);
        foreach (var name in new[] { SegmentFormat.SpansFile, SegmentFormat.PayloadsFile, SegmentFormat.AttrsFile, SegmentFormat.TracesFile })
        {
            var version = Rows(connection, $"SELECT decode(value) FROM parquet_kv_metadata({File(info, name)}) WHERE decode(key) = '{SegmentFormat.VersionKey}'");
            Assert.Equal(SegmentFormat.Version.ToString(System.Globalization.CultureInfo.InvariantCulture), Assert.Single(version)[0]);
        }

        // One summary row per trace, whose span counts add up, sorted by request time.
        Assert.Equal(traces.Count, Scalar(connection, $"SELECT count(*) FROM read_parquet({File(info, SegmentFormat.TracesFile)})"));
        Assert.Equal(expectedSpans, Scalar(connection, $"SELECT sum(span_count)::BIGINT FROM read_parquet({File(info, SegmentFormat.TracesFile)})"));
        Assert.Equal(0, Scalar(connection, $"SELECT count(*) FROM (SELECT request_time_ms, lag(request_time_ms) OVER () AS previous FROM read_parquet({File(info, SegmentFormat.TracesFile)})) WHERE previous > request_time_ms"));
        Assert.Equal(traces.Count, Scalar(connection, $"SELECT count(*) FROM read_parquet({File(info, SegmentFormat.TracesFile)}) WHERE tags['mlflow.trace.spansLocation'] = 'TRACKING_STORE' AND seal_sequence = 7"));

        // Inputs and outputs live in the payload file only, under the attribute key they came from.
        var payloadKeys = Rows(connection, $"SELECT DISTINCT inputs_key FROM read_parquet({File(info, SegmentFormat.PayloadsFile)}) WHERE inputs_key IS NOT NULL ORDER BY 1").Select(r => (string)r[0]!).ToList();
        Assert.Contains("input.value", payloadKeys);
        Assert.Equal(0, Scalar(connection, $"SELECT count(*) FROM read_parquet({File(info, SegmentFormat.AttrsFile)}) WHERE key IN ('input.value', 'output.value', 'mlflow.spanInputs', 'mlflow.spanOutputs')"));
        Assert.Equal(0, Scalar(connection, $"SELECT count(*) FROM read_parquet({File(info, SegmentFormat.SpansFile)}) WHERE list_contains(map_keys(attributes), 'input.value')"));
        Assert.True(Scalar(connection, $"SELECT count(*) FROM read_parquet({File(info, SegmentFormat.AttrsFile)}) WHERE key = 'openinference.span.kind'") > 0);
    }

    [Fact]
    public void Span_fields_round_trip_through_the_segment()
    {
        var assembler = new SpanAssembler(new AssemblerOptions(), new MemoryBudget(256L << 20));
        assembler.Add(SpanBatches.Decode([new(1, 1, 0), new(1, 2, 1, Ended: false)]), "exp-9", walSequence: 3);
        using var writer = new SegmentWriter(_folder.Path);
        var info = writer.Write(1, [.. assembler.TakeAll().Select(t => t.Buffer)]);

        using var database = DuckDbDatabase.OpenInMemory();
        using var connection = database.Connect();
        var rows = Rows(connection, $"SELECT experiment_id, trace_id, span_id, parent_span_id, name, span_type, status, start_time_ns, end_time_ns FROM read_parquet({File(info, SegmentFormat.SpansFile)}) ORDER BY span_id");
        var traceHex = SpanBatches.TraceIdOf(1).ToHex();
        Assert.Equal(2, rows.Count);
        var root = rows.Single(r => r[3] is null);
        var child = rows.Single(r => r[3] is not null);
        Assert.Equal(["exp-9", "tr-" + traceHex, SpanBatches.SpanIdOf(1).ToHex(), null, "t1-s1", "UNKNOWN", "UNSET"], root.Take(7));
        Assert.Equal(SpanBatches.SpanIdOf(1).ToHex(), child[3]);
        Assert.Null(child[8]);
        Assert.Equal(info.MinTraceId, "tr-" + traceHex);
    }

    [Fact]
    public void Every_file_is_in_its_sort_order_across_chunks_with_the_rows_of_every_span()
    {
        // Many chunks of rows (2,600 small spans with 7 attributes each, 250 GenAI spans with payloads), and a trace id
        // held by two experiments (two buffers whose spans tie on every sort key).
        var assembler = new SpanAssembler(new AssemblerOptions(), new MemoryBudget(1L << 30));
        var small = new RenewableRequest(OtlpBenchmarkPayloads.Create(OtlpBenchmarkPayloads.Small, seed: 3, spansPerTrace: 10).ToByteArray());
        var genai = new RenewableRequest(OtlpBenchmarkPayloads.Create(OtlpBenchmarkPayloads.GenAi, seed: 4, spansPerTrace: 5).ToByteArray());
        assembler.Add(DecodedBatches.Decode(small.Body), "0", walSequence: 1);
        assembler.Add(DecodedBatches.Decode(small.Body), "exp-2", walSequence: 2);
        assembler.Add(DecodedBatches.Decode(genai.Body), "0", walSequence: 3);
        var traces = assembler.TakeAll().Select(t => t.Buffer).ToList();
        var spanCount = traces.Sum(t => t.Spans.Count);
        using var writer = new SegmentWriter(_folder.Path);
        var info = writer.Write(sealSequence: 1, traces);

        using var database = DuckDbDatabase.OpenInMemory();
        using var connection = database.Connect();
        var spans = File(info, SegmentFormat.SpansFile);
        var attrs = File(info, SegmentFormat.AttrsFile);
        var payloads = File(info, SegmentFormat.PayloadsFile);
        Assert.Equal(spanCount, info.Spans);
        Assert.Equal(spanCount, Scalar(connection, $"SELECT count(*) FROM read_parquet({spans})"));
        Assert.Equal(0, Inversions(connection, spans, "trace_id", "start_time_ns", "span_id"));
        Assert.Equal(0, Inversions(connection, attrs, "key", "value", "span_row"));
        Assert.Equal(0, Inversions(connection, File(info, SegmentFormat.TracesFile), "request_time_ms", "trace_id"));

        // attrs holds exactly the spans' attribute maps, row for row, each naming its span by its row in the spans file.
        var fromSpans = $"SELECT e.key, e.value, file_row_number FROM read_parquet({spans}, file_row_number = true), unnest(map_entries(attributes)) AS t(e)";
        var fromAttrs = $"SELECT key, value, span_row FROM read_parquet({attrs})";
        Assert.Equal(Scalar(connection, $"SELECT count(*) FROM ({fromSpans})"), Scalar(connection, $"SELECT count(*) FROM ({fromAttrs})"));
        Assert.Equal(0, Scalar(connection, $"SELECT count(*) FROM ({fromSpans} EXCEPT ALL {fromAttrs})"));
        Assert.True(Scalar(connection, $"SELECT count(*) FROM ({fromAttrs})") > 7 * 2600);

        // Every string is the one the buffers hold (DuckDB reads strings in place, chunk by chunk): each span's
        // attributes and payloads, compared with the input, row for row.
        var expectedAttributes = new List<string>();
        var expectedPayloads = new List<string>();
        foreach (var trace in traces)
        {
            foreach (ref readonly var span in trace.Spans.AsSpan())
            {
                var id = $"{trace.Key.ExperimentId}/{span.SpanId.ToHex()}";
                foreach (ref readonly var attribute in trace.Attributes.Slice(span.Attributes))
                {
                    if (attribute.Value != span.Inputs && attribute.Value != span.Outputs)
                    {
                        expectedAttributes.Add($"{id} {trace.GetString(attribute.Key)}={trace.GetString(attribute.Value)}");
                    }
                }

                if (!span.Inputs.IsEmpty || !span.Outputs.IsEmpty)
                {
                    expectedPayloads.Add($"{span.SpanId.ToHex()} {trace.GetString(span.Inputs)} {trace.GetString(span.Outputs)}");
                }
            }
        }

        var storedAttributes = Rows(connection, $"SELECT experiment_id || '/' || span_id || ' ' || e.key || '=' || e.value FROM read_parquet({spans}), unnest(map_entries(attributes)) AS t(e)")
            .Select(r => (string)r[0]!);
        var storedPayloads = Rows(connection, $"SELECT span_id || ' ' || coalesce(inputs, '') || ' ' || coalesce(outputs, '') FROM read_parquet({payloads})")
            .Select(r => (string)r[0]!);
        Assert.Equal(expectedAttributes.Order(StringComparer.Ordinal), storedAttributes.Order(StringComparer.Ordinal));
        Assert.Equal(expectedPayloads.Order(StringComparer.Ordinal), storedPayloads.Order(StringComparer.Ordinal));

        // Payload rows follow the spans file's order: their spans' positions there only grow.
        Assert.Equal(250, Scalar(connection, $"SELECT count(*) FROM read_parquet({payloads})"));
        Assert.Equal(0, Scalar(connection, $"""
            SELECT count(*) FROM (
                SELECT s.file_row_number AS position, lag(s.file_row_number) OVER (ORDER BY p.file_row_number) AS previous
                FROM read_parquet({payloads}, file_row_number = true) p
                JOIN read_parquet({spans}, file_row_number = true) s USING (trace_id, span_id))
            WHERE previous >= position
            """));
    }

    [Fact]
    public void Unfinished_segment_folders_are_removed()
    {
        Directory.CreateDirectory(Path.Combine(_folder.Path, "seg-00000000000000000003.tmp"));
        Directory.CreateDirectory(Path.Combine(_folder.Path, "seg-00000000000000000002"));

        var removed = SegmentWriter.RemoveUnfinished(_folder.Path);

        Assert.Single(removed);
        Assert.Equal(["seg-00000000000000000002"], Directory.GetDirectories(_folder.Path).Select(Path.GetFileName));
    }

    /// <summary>Rows that sort before the row above them by (<paramref name="keys"/>), compared as DuckDB compares.</summary>
    private static long Inversions(DuckDbConnection connection, string file, params string[] keys)
    {
        var previous = string.Join(", ", keys.Select(k => $"lag({k}) OVER () AS p_{k}"));
        string Before(int i) => i == keys.Length - 1
            ? $"p_{keys[i]} > {keys[i]}"
            : $"(p_{keys[i]} > {keys[i]} OR (p_{keys[i]} = {keys[i]} AND {Before(i + 1)}))";
        return Scalar(connection, $"SELECT count(*) FROM (SELECT *, {previous} FROM read_parquet({file})) WHERE {Before(0)}");
    }

    private static string File(SegmentInfo info, string name) => DuckDbSql.Literal(Path.Combine(info.Folder, name));

    private static long Scalar(DuckDbConnection connection, string sql) => Convert.ToInt64(Rows(connection, sql)[0][0], System.Globalization.CultureInfo.InvariantCulture);

    private static List<object?[]> Rows(DuckDbConnection connection, string sql)
    {
        using var result = connection.Query(sql);
        return result.ReadAllRows();
    }
}
