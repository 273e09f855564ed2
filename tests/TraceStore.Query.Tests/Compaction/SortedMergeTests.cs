using FsCheck;
using FsCheck.Fluent;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Trace.V1;
using TraceStore.DuckDb;
using TraceStore.Engine.Admission;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Segments;
using TraceStore.Query.Tests.Traces;
using TraceStore.Query.Traces;
using TraceStore.Testing;

namespace TraceStore.Query.Tests.Compaction;

/// <summary>
/// The k-way merge (<see cref="SortedMerge"/>) against a reference computed by plain DuckDB SQL over the inputs
/// before the merge: spans each kept once, from the earliest folder (smallest seal sequence; the earlier row on a tie
/// within a folder), deleted traces left out, sorted by ORDER BY trace_id, start_time_ns, span_id; attrs of the kept
/// copies with span_row renumbered to the merged spans file, ORDER BY key, value, span_row; payloads kept once per
/// (trace_id, span_id) from the earliest folder, ORDER BY trace_id, folder, row (payloads are sorted by trace id; within
/// a trace, input by input); traces the latest summary of each (highest seal sequence), ORDER BY request_time_ms,
/// trace_id. Inputs are written by the real segment writer, with each copy of a span marked by the
/// segment it was written to (its start time, an attribute and its payload differ per copy), so a copy from the wrong
/// folder cannot pass.
/// </summary>
public sealed class SortedMergeTests
{
    private const long BaseMs = 1_763_700_000_000;

    /// <summary>One span of a test segment: trace number, span number (its id is fixed by the pair) and start offset in
    /// ms; <c>Payload</c> false leaves it without inputs.</summary>
    private sealed record TestSpan(int Trace, int Span, int StartMs, bool Payload);

    [Fact]
    public void Random_overlapping_inputs_merge_to_what_the_reference_query_gives()
    {
        var span = from trace in Gen.Choose(1, 6)
                   from id in Gen.Choose(0, 5)
                   from start in Gen.Choose(0, 3)
                   from payload in Gen.Frequency((3, Gen.Constant(true)), (1, Gen.Constant(false)))
                   select new TestSpan(trace, id, start, payload);
        var segment = Gen.Choose(1, 12).SelectMany(n => span.ArrayOf(n));
        var inputs = from count in Gen.Choose(1, 5)
                     from segments in segment.ArrayOf(count)
                     from deletions in Gen.Choose(0, 2)
                     from deleted in Gen.Choose(1, 6).ArrayOf(deletions)
                     select (segments, deleted);
        Prop.ForAll(Arb.From(inputs), input =>
        {
            using var store = new Store();
            foreach (var spans in input.segments)
            {
                store.Write(spans);
            }

            store.Delete(input.deleted);
            store.MergeAndCompareWithReference();
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(40));
    }

    [Fact]
    public void A_retried_span_is_kept_from_the_earliest_folder_whatever_its_start_and_its_later_copies_attributes_are_dropped()
    {
        using var store = new Store();
        store.Write([new(1, 0, 0, true), new(1, 1, 3, true), new(2, 0, 1, true)]);
        store.Write([new(1, 1, 1, true), new(1, 2, 2, false)]);
        store.Write([new(1, 1, 0, true), new(1, 0, 0, true), new(2, 0, 1, false)]);
        var merged = store.MergeAndCompareWithReference()!;
        Assert.Equal(4, merged.Spans);

        // Trace 1's span 1 came from the first segment, at its start there (3 ms), with that segment's attribute.
        var rows = Rows($"SELECT start_time_ns, attributes['copy.segment'] FROM read_parquet({File(merged, SegmentFormat.SpansFile)}) WHERE name = 'span-1-1'");
        Assert.Equal([(BaseMs + 3) * 1_000_000, "\"0\""], Assert.Single(rows));

        // No attribute of the third segment's copies is left (attribute values are stored as JSON).
        Assert.Equal(
            [4L, 0L],
            Rows($"SELECT count(*), count(*) FILTER (WHERE value = '\"2\"') FROM read_parquet({File(merged, SegmentFormat.AttrsFile)}) WHERE key = 'copy.segment'")[0]);
    }

    [Fact]
    public void Equal_trace_ids_and_start_times_across_many_inputs_merge_in_order()
    {
        using var store = new Store();
        for (var segment = 0; segment < 9; segment++)
        {
            store.Write([.. Enumerable.Range(0, 8).Select(i => new TestSpan(3, (segment * 8) + i, 0, i % 2 == 0)), new TestSpan(3, segment, 0, true)]);
        }

        var merged = store.MergeAndCompareWithReference()!;
        Assert.Equal(72, merged.Spans);
    }

    [Fact]
    public void An_input_whose_traces_are_all_deleted_and_inputs_without_payloads_merge()
    {
        using var store = new Store();
        store.Write([new(1, 0, 0, true), new(1, 1, 0, true)]);
        store.Write([new(2, 0, 0, false), new(2, 1, 1, false)]);
        store.Write([new(3, 0, 2, true), new(2, 2, 0, false)]);
        store.Delete([1]);
        var merged = store.MergeAndCompareWithReference()!;
        Assert.Equal(4, merged.Spans);
    }

    [Fact]
    public void A_large_trace_split_over_overlapping_inputs_keeps_each_span_once()
    {
        using var store = new Store();
        const int Spans = 30_000;
        store.Write([.. Enumerable.Range(0, Spans * 2 / 3).Select(i => new TestSpan(7, i, i % 5, i % 7 == 0))]);
        store.Write([.. Enumerable.Range(Spans / 3, Spans * 2 / 3).Select(i => new TestSpan(7, i, i % 3, i % 5 == 0))]);
        store.Write([.. Enumerable.Range(0, Spans).Where(i => i % 2 == 0).Select(i => new TestSpan(7, i, 1, false))]);
        var merged = store.MergeAndCompareWithReference()!;
        Assert.Equal(Spans, merged.Spans);
    }

    private static string File(SegmentInfo segment, string file) => DuckDbSql.Literal(Path.Combine(segment.Folder, file));

    private static List<object?[]> Rows(string sql)
    {
        using var database = DuckDbDatabase.OpenInMemory();
        using var connection = database.Connect();
        using var result = connection.Query(sql);
        return result.ReadAllRows();
    }

    /// <summary>A store folder whose segments are written one by one by the real segment writer.</summary>
    private sealed class Store : IDisposable
    {
        private readonly TempDirectory _folder = new("sorted-merge");
        private readonly SegmentCatalog _catalog;
        private readonly SpanAssembler _assembler = new(new AssemblerOptions(), new MemoryBudget(256L << 20));
        private readonly List<int> _deleted = [];
        private int _segments;

        public Store() => _catalog = SegmentCatalog.Open(_folder.Path);

        /// <summary>Writes <paramref name="spans"/> as one segment (duplicates within it are kept by the assembler as it
        /// keeps them in any request).</summary>
        public void Write(IReadOnlyList<TestSpan> spans)
        {
            _assembler.Add(DecodedBatches.Decode(Body(spans, _segments)), "exp", walSequence: _segments + 1);
            using var writer = new SegmentWriter(_catalog.SegmentsFolder);
            _catalog.Commit(writer.Write(_catalog.AllocateSealSequence(), [.. _assembler.TakeAll().Select(t => t.Buffer)]));
            _segments++;
        }

        public void Delete(IEnumerable<int> traces)
        {
            var ids = traces.Distinct().ToList();
            _deleted.AddRange(ids);
            using var reader = new TraceReader(_catalog);
            new TraceMutations(_catalog, reader).DeleteTraces("exp", [.. ids.Select(SealedTraces.Id)]);
        }

        /// <summary>Computes the reference rows over the inputs, merges them all, and compares every merged file's rows,
        /// in file order, with the reference; returns the merged segment (null when every trace was deleted).</summary>
        public SegmentInfo? MergeAndCompareWithReference()
        {
            var inputs = _catalog.Segments();
            var expected = Reference(inputs);
            using var compactor = new SegmentCompactor(_catalog, 64L << 20);
            var merged = compactor.Merge(inputs);
            if (merged is null)
            {
                Assert.All(expected, file => Assert.Empty(file.Value));
                return null;
            }

            foreach (var (file, rows) in expected)
            {
                Assert.Equal(rows, Rows($"SELECT CAST(t AS VARCHAR) FROM read_parquet({File(merged, file)}) t"));
            }

            AssertAttrsMatchSpans(merged);
            return merged;
        }

        public void Dispose()
        {
            _catalog.Dispose();
            _folder.Dispose();
        }

        /// <summary>Each file's rows as DuckDB's ORDER BY over the inputs gives them, each row as text.</summary>
        private Dictionary<string, List<object?[]>> Reference(IReadOnlyList<SegmentInfo> inputs)
        {
            string Files(string name) => "[" + string.Join(", ", inputs.Select(s => DuckDbSql.Literal(Path.Combine(s.Folder, name)))) + "]";
            const string Folder = "CAST(regexp_extract(filename, 'seg-([0-9]+)', 1) AS BIGINT)";
            var deleted = "[" + string.Join(", ", _deleted.Select(t => DuckDbSql.Literal(SealedTraces.Id(t)))) + "]::VARCHAR[]";
            var kept = $"""
                SELECT *, row_number() OVER (ORDER BY {SegmentFormat.SpansOrder}) - 1 AS new_row FROM (
                    SELECT * EXCLUDE (filename, file_row_number), {Folder} AS f, file_row_number AS r
                    FROM read_parquet({Files(SegmentFormat.SpansFile)}, filename = true, file_row_number = true)
                    WHERE NOT list_contains({deleted}, trace_id)
                    QUALIFY row_number() OVER (PARTITION BY trace_id, span_id ORDER BY f, r) = 1)
                """;
            var spans = $"SELECT CAST(t AS VARCHAR) FROM (SELECT * EXCLUDE (f, r, new_row) FROM ({kept}) ORDER BY {SegmentFormat.SpansOrder}) t";
            var attrs = $"""
                SELECT CAST(t AS VARCHAR) FROM (
                    SELECT a.key, a.value, CAST(k.new_row AS INTEGER) AS span_row
                    FROM (SELECT *, {Folder} AS f FROM read_parquet({Files(SegmentFormat.AttrsFile)}, filename = true)) a
                    JOIN ({kept}) k ON k.f = a.f AND k.r = a.span_row
                    ORDER BY {SegmentFormat.AttrsOrder}) t
                """;
            var payloads = $"""
                SELECT CAST(t AS VARCHAR) FROM (
                    SELECT * EXCLUDE (f, r) FROM (
                        SELECT * EXCLUDE (filename, file_row_number), {Folder} AS f, file_row_number AS r
                        FROM read_parquet({Files(SegmentFormat.PayloadsFile)}, filename = true, file_row_number = true)
                        WHERE NOT list_contains({deleted}, trace_id)
                        QUALIFY row_number() OVER (PARTITION BY trace_id, span_id ORDER BY f, r) = 1)
                    ORDER BY trace_id, f, r) t
                """;
            var traces = $"""
                SELECT CAST(t AS VARCHAR) FROM (
                    SELECT * FROM read_parquet({Files(SegmentFormat.TracesFile)})
                    WHERE NOT list_contains({deleted}, trace_id)
                    QUALIFY row_number() OVER (PARTITION BY trace_id ORDER BY seal_sequence DESC) = 1
                    ORDER BY {SegmentFormat.TracesOrder}) t
                """;
            return new()
            {
                [SegmentFormat.TracesFile] = Rows(traces),
                [SegmentFormat.SpansFile] = Rows(spans),
                [SegmentFormat.AttrsFile] = Rows(attrs),
                [SegmentFormat.PayloadsFile] = Rows(payloads),
            };
        }

        /// <summary>The merged attrs rows, joined to the merged spans by row, are exactly the spans' own attribute maps
        /// (count and hash sum of (trace_id, span_id, key, value), as <see cref="MergeUnderMemoryLimitTests"/>).</summary>
        private static void AssertAttrsMatchSpans(SegmentInfo merged)
        {
            var spans = $"SELECT *, file_row_number FROM read_parquet({File(merged, SegmentFormat.SpansFile)}, file_row_number = true)";
            var row = Assert.Single(Rows($"""
                SELECT
                    (SELECT count(*) FROM read_parquet({File(merged, SegmentFormat.AttrsFile)})),
                    (SELECT CAST(sum(hash(s.trace_id, s.span_id, a.key, a.value)) AS VARCHAR)
                        FROM read_parquet({File(merged, SegmentFormat.AttrsFile)}) a JOIN ({spans}) s ON s.file_row_number = a.span_row),
                    (SELECT count(*) FROM ({spans}), unnest(map_entries(attributes)) AS t(e)),
                    (SELECT CAST(sum(hash(trace_id, span_id, e.key, e.value)) AS VARCHAR) FROM ({spans}), unnest(map_entries(attributes)) AS t(e))
                """));
            Assert.Equal(row[2], row[0]);
            Assert.Equal(row[3], row[1]);
        }

        /// <summary>OTLP of <paramref name="spans"/>, each copy marked by <paramref name="segment"/>: a
        /// <c>copy.segment</c> attribute, and its payload's text; span ids are fixed by (trace, span), so a span written
        /// to two segments is one span in two copies.</summary>
        private static byte[] Body(IReadOnlyList<TestSpan> spans, int segment)
        {
            var scope = new ScopeSpans();
            foreach (var s in spans)
            {
                var traceId = new byte[16];
                SealedTraces.TraceIdOf(s.Trace).WriteBytes(traceId);
                var otlp = new Span
                {
                    TraceId = ByteString.CopyFrom(traceId),
                    SpanId = ByteString.CopyFrom([(byte)(s.Trace >> 8), (byte)s.Trace, (byte)(s.Span >> 16), (byte)(s.Span >> 8), (byte)s.Span, 6, 7, 8]),
                    Name = $"span-{s.Trace}-{s.Span}",
                    StartTimeUnixNano = (ulong)(BaseMs + s.StartMs) * 1_000_000,
                    EndTimeUnixNano = (ulong)(BaseMs + s.StartMs + 5) * 1_000_000,
                };
                otlp.Attributes.Add(new KeyValue { Key = "copy.segment", Value = new AnyValue { StringValue = segment.ToString(System.Globalization.CultureInfo.InvariantCulture) } });
                otlp.Attributes.Add(new KeyValue { Key = "span.index", Value = new AnyValue { IntValue = s.Span } });
                if (s.Payload)
                {
                    otlp.Attributes.Add(new KeyValue { Key = "mlflow.spanInputs", Value = new AnyValue { StringValue = $"{{\"q\": \"trace {s.Trace} span {s.Span} copy {segment}\"}}" } });
                }

                scope.Spans.Add(otlp);
            }

            return new ExportTraceServiceRequest { ResourceSpans = { new ResourceSpans { ScopeSpans = { scope } } } }.ToByteArray();
        }
    }
}
