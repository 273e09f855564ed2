using TraceStore.DuckDb;
using TraceStore.Engine;
using TraceStore.Engine.Ingest;
using TraceStore.Protocol.Content;
using TraceStore.Testing;

namespace TraceStore.Query.Tests.Traces;

/// <summary>The queries docs/segments.md gives for reading segments with plain DuckDB, run as written there.</summary>
public sealed class PlainDuckDbTests : IDisposable
{
    private const string LatestSummaries = """
        SELECT * EXCLUDE (rn) FROM (
            SELECT *, row_number() OVER (PARTITION BY trace_id ORDER BY seal_sequence DESC) AS rn
            FROM read_parquet('segments/seg-*/traces.parquet')) WHERE rn = 1;
        """;

    private const string SpansOfTrace = """
        SELECT DISTINCT ON (s.span_id) s.*, p.inputs, p.outputs
        FROM read_parquet('segments/seg-*/spans.parquet') s
        LEFT JOIN read_parquet('segments/seg-*/payloads.parquet') p USING (trace_id, span_id)
        WHERE s.trace_id = 'tr-25f3de843855e5e8172e5fb702b0e14a';
        """;

    private const string SpansWithAttribute = """
        SELECT DISTINCT s.trace_id, s.span_id
        FROM read_parquet('segments/seg-*/attrs.parquet', filename = true) a
        JOIN read_parquet('segments/seg-*/spans.parquet', filename = true, file_row_number = true) s
          ON s.file_row_number = a.span_row AND parse_dirpath(s.filename) = parse_dirpath(a.filename)
        WHERE a.key = 'openinference.span.kind' AND a.value = '"LLM"';
        """;

    private readonly TempDirectory _folder = new("plain-duckdb");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Documented_queries_read_the_segments_without_TraceStore_code()
    {
        await using (var store = Engine.TraceStore.Open(new TraceStoreOptions { DataDirectory = _folder.Path }))
        {
            foreach (var file in TestPayloads.All.Where(f => f.SpanCount > 0))
            {
                var payload = new OtlpPayload(file.RawBytes, file.Format == "json" ? OtlpPayloadFormat.Json : OtlpPayloadFormat.Protobuf, OtlpContentHeaders.ParseEncoding(file.ContentEncoding));
                Assert.Equal(IngestOutcome.Accepted, (await store.IngestAsync(payload)).Outcome);
            }

            store.SealAll();
        }

        using var database = DuckDbDatabase.OpenInMemory();
        using var connection = database.Connect();
        connection.Execute($"SET file_search_path = {DuckDbSql.Literal(_folder.Path)}");

        Assert.Equal(TestPayloads.Traces.Count, Rows(connection, LatestSummaries));
        Assert.Equal(10, Rows(connection, SpansOfTrace));
        var llmSpans = Rows(connection, SpansWithAttribute);
        Assert.True(llmSpans > 0);
        Assert.Equal(Scalar(connection, """SELECT count(DISTINCT (trace_id, span_id)) FROM read_parquet('segments/seg-*/spans.parquet') WHERE attributes['openinference.span.kind'] = '"LLM"'"""), llmSpans);
    }

    private static long Scalar(DuckDbConnection connection, string sql)
    {
        using var result = connection.Query(sql);
        return (long)result.ReadAllRows()[0][0]!;
    }

    private static int Rows(DuckDbConnection connection, string sql)
    {
        using var result = connection.Query(sql);
        return result.ReadAllRows().Count;
    }
}
