using TraceStore.DuckDb;

namespace TraceStore.Engine.Catalog;

/// <summary>One stored assessment row (mlflow-tracing.md a.3). <see cref="ValueJson"/> holds the assessment's value
/// object as proto JSON: <c>{"feedback": {...}}</c>, <c>{"expectation": {...}}</c> or <c>{"issue": {...}}</c>.</summary>
public sealed record AssessmentRow(
    string AssessmentId,
    string TraceId,
    string Name,
    string Type,
    string ValueJson,
    long CreatedMs,
    long LastUpdatedMs,
    string SourceType,
    string? SourceId,
    string? SpanId,
    string? Rationale,
    string? Overrides,
    bool Valid,
    IReadOnlyDictionary<string, string> Metadata);

/// <summary>
/// Assessments (feedback, expectations, issue references) stored in the catalog database beside the segments: they
/// change after a trace is sealed, so they live in the mutable overlay, not in Parquet. Storage only; MLflow's rules
/// (existence, overrides, update masks) are applied by the query layer. Thread-safe through the catalog's lock.
/// </summary>
public sealed class AssessmentTable
{
    internal const string Schema = """
        CREATE TABLE IF NOT EXISTS assessments (
            assessment_id VARCHAR PRIMARY KEY, trace_id VARCHAR NOT NULL, name VARCHAR NOT NULL, assessment_type VARCHAR NOT NULL,
            value_json VARCHAR NOT NULL, created_ms BIGINT NOT NULL, last_updated_ms BIGINT NOT NULL,
            source_type VARCHAR NOT NULL, source_id VARCHAR, span_id VARCHAR, rationale VARCHAR, overrides VARCHAR,
            valid BOOLEAN NOT NULL, metadata MAP(VARCHAR, VARCHAR) NOT NULL);
        """;

    private const string Columns = "assessment_id, trace_id, name, assessment_type, value_json, created_ms, last_updated_ms, source_type, source_id, span_id, rationale, overrides, valid, map_keys(metadata), map_values(metadata)";

    private readonly object _gate;
    private readonly DuckDbConnection _connection;

    internal AssessmentTable(object gate, DuckDbConnection connection)
    {
        _gate = gate;
        _connection = connection;
    }

    /// <summary>Inserts or replaces the row with this id.</summary>
    public void Put(AssessmentRow row)
    {
        lock (_gate)
        {
            using var upsert = _connection.Prepare(
                "INSERT OR REPLACE INTO assessments VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, MAP($14::VARCHAR[], $15::VARCHAR[]))");
            upsert.Bind(1, row.AssessmentId);
            upsert.Bind(2, row.TraceId);
            upsert.Bind(3, row.Name);
            upsert.Bind(4, row.Type);
            upsert.Bind(5, row.ValueJson);
            upsert.Bind(6, row.CreatedMs);
            upsert.Bind(7, row.LastUpdatedMs);
            upsert.Bind(8, row.SourceType);
            upsert.Bind(9, row.SourceId);
            upsert.Bind(10, row.SpanId);
            upsert.Bind(11, row.Rationale);
            upsert.Bind(12, row.Overrides);
            upsert.Bind(13, row.Valid);
            var metadata = row.Metadata.OrderBy(e => e.Key, StringComparer.Ordinal).ToList();
            upsert.BindList(14, DuckDbLogicalType.Varchar, metadata.Select(e => e.Key).ToList());
            upsert.BindList(15, DuckDbLogicalType.Varchar, metadata.Select(e => e.Value).ToList());
            upsert.ExecuteNonQuery();
        }
    }

    public AssessmentRow? Get(string assessmentId) => Select("assessment_id = $1", assessmentId).SingleOrDefault();

    /// <summary>Every assessment of a trace (valid or not), oldest first.</summary>
    public IReadOnlyList<AssessmentRow> ForTrace(string traceId) => Select("trace_id = $1", traceId);

    public void Delete(string assessmentId)
    {
        lock (_gate)
        {
            using var delete = _connection.Prepare("DELETE FROM assessments WHERE assessment_id = $1");
            delete.Bind(1, assessmentId);
            delete.ExecuteNonQuery();
        }
    }

    private List<AssessmentRow> Select(string where, string value)
    {
        lock (_gate)
        {
            using var query = _connection.Prepare($"SELECT {Columns} FROM assessments WHERE {where} ORDER BY created_ms, assessment_id");
            query.Bind(1, value);
            using var result = query.Execute();
            return [.. result.ReadAllRows().Select(r => new AssessmentRow(
                (string)r[0]!, (string)r[1]!, (string)r[2]!, (string)r[3]!, (string)r[4]!, (long)r[5]!, (long)r[6]!, (string)r[7]!,
                (string?)r[8], (string?)r[9], (string?)r[10], (string?)r[11], (bool)r[12]!,
                ((List<object?>)r[13]!).Zip((List<object?>)r[14]!).ToDictionary(p => (string)p.First!, p => (string)p.Second!, StringComparer.Ordinal)))];
        }
    }
}
