using TraceStore.Engine.Catalog;

namespace TraceStore.Query.Traces;

/// <summary>What a caller gives to create an assessment (mlflow-tracing.md a.3). <see cref="ValueJson"/> is the value
/// object of the assessment's kind: for feedback <c>{"value": ..., "error": {...}}</c>, for an expectation
/// <c>{"value": ...}</c> or <c>{"serialized_value": {...}}</c>, for an issue <c>{"issue_name": "..."}</c>.</summary>
public sealed record AssessmentInput(
    string Name,
    AssessmentKind Kind,
    string ValueJson,
    string SourceType = "SOURCE_TYPE_UNSPECIFIED",
    string? SourceId = null,
    string? SpanId = null,
    string? Rationale = null,
    string? Overrides = null,
    IReadOnlyDictionary<string, string>? Metadata = null);

/// <summary>The oneof case of an assessment's value; stored as MLflow's <c>assessment_type</c> column value.</summary>
public enum AssessmentKind
{
    Feedback,
    Expectation,
    Issue,
}

/// <summary>
/// MLflow's assessment semantics over the catalog's assessment table (mlflow-tracing.md a.3, d.1): ids are
/// <c>a-</c> + 32 hex; creating one that <c>overrides</c> another marks that one invalid (404 if it does not exist);
/// updates take a field mask (<c>assessment_name</c>, <c>expectation</c>, <c>feedback</c>, <c>rationale</c>,
/// <c>metadata</c> merged into the existing map, <c>valid</c>) and never change the kind, source or span; deleting is
/// idempotent and makes the assessment it overrode valid again.
/// </summary>
public sealed class TraceAssessments(SegmentCatalog catalog, TraceReader reader, TimeProvider? time = null)
{
    public const int MaxNameLength = 250;

    private static readonly HashSet<string> MaskPaths = new(["assessment_name", "expectation", "feedback", "rationale", "metadata", "valid"], StringComparer.Ordinal);
    private static readonly string[] ValuePaths = ["feedback", "expectation"];
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public AssessmentRow Create(string traceId, AssessmentInput input)
    {
        RequireTrace(traceId);
        if (string.IsNullOrWhiteSpace(input.Name) || input.Name.Length > MaxNameLength)
        {
            throw new TraceStoreQueryException(QueryErrorCode.InvalidParameterValue, $"The assessment name must be 1 to {MaxNameLength} characters.");
        }

        if (input.Overrides is { } overridden)
        {
            var old = Require(traceId, overridden);
            catalog.Assessments.Put(old with { Valid = false });
        }

        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var row = new AssessmentRow(
            "a-" + Guid.NewGuid().ToString("N"), traceId, input.Name, TypeName(input.Kind), input.ValueJson, now, now,
            input.SourceType, input.SourceId, input.SpanId, input.Rationale, input.Overrides, Valid: true,
            input.Metadata ?? new Dictionary<string, string>());
        catalog.Assessments.Put(row);
        return row;
    }

    public AssessmentRow Get(string traceId, string assessmentId)
    {
        RequireTrace(traceId);
        return Require(traceId, assessmentId);
    }

    public IReadOnlyList<AssessmentRow> ForTrace(string traceId) => catalog.Assessments.ForTrace(traceId);

    /// <summary>Applies the fields of <paramref name="update"/> named by <paramref name="mask"/> (snake_case paths).</summary>
    public AssessmentRow Update(string traceId, string assessmentId, AssessmentInput update, IReadOnlyCollection<string> mask)
    {
        if (mask.Count == 0)
        {
            throw new TraceStoreQueryException(QueryErrorCode.InvalidParameterValue, "Missing value for required parameter 'update_mask'.");
        }

        if (mask.FirstOrDefault(p => !MaskPaths.Contains(p)) is { } unknown)
        {
            throw new TraceStoreQueryException(QueryErrorCode.InvalidParameterValue, $"Invalid update_mask path '{unknown}'. Updatable fields: {string.Join(", ", MaskPaths.Order(StringComparer.Ordinal))}.");
        }

        RequireTrace(traceId);
        var row = Require(traceId, assessmentId);
        foreach (var path in ValuePaths.Where(mask.Contains))
        {
            if (TypeName(update.Kind) != path || row.Type != path)
            {
                throw new TraceStoreQueryException(QueryErrorCode.InvalidParameterValue, $"Cannot update the {path} of a {row.Type} assessment: an assessment's kind cannot change.");
            }

            row = row with { ValueJson = update.ValueJson };
        }

        if (mask.Contains("assessment_name"))
        {
            row = row with { Name = update.Name };
        }

        if (mask.Contains("rationale"))
        {
            row = row with { Rationale = update.Rationale };
        }

        if (mask.Contains("metadata"))
        {
            var merged = new Dictionary<string, string>(row.Metadata, StringComparer.Ordinal);
            foreach (var (key, value) in update.Metadata ?? new Dictionary<string, string>())
            {
                merged[key] = value;
            }

            row = row with { Metadata = merged };
        }

        row = row with { LastUpdatedMs = _time.GetUtcNow().ToUnixTimeMilliseconds() };
        catalog.Assessments.Put(row);
        return row;
    }

    /// <summary>Deletes an assessment (nothing happens if it is already gone); the one it overrode is valid again.</summary>
    public void Delete(string traceId, string assessmentId)
    {
        var row = catalog.Assessments.Get(assessmentId);
        if (row is null || row.TraceId != traceId)
        {
            return;
        }

        catalog.Assessments.Delete(assessmentId);
        if (row.Overrides is { } overridden && catalog.Assessments.Get(overridden) is { } old)
        {
            catalog.Assessments.Put(old with { Valid = true });
        }
    }

    private static string TypeName(AssessmentKind kind) => kind switch
    {
        AssessmentKind.Feedback => "feedback",
        AssessmentKind.Expectation => "expectation",
        _ => "issue",
    };

    private void RequireTrace(string traceId)
    {
        if (reader.Get(traceId) is null)
        {
            throw new TraceStoreQueryException(QueryErrorCode.ResourceDoesNotExist, $"Trace with request_id '{traceId}' not found");
        }
    }

    private AssessmentRow Require(string traceId, string assessmentId) =>
        catalog.Assessments.Get(assessmentId) is { } row && row.TraceId == traceId
            ? row
            : throw new TraceStoreQueryException(QueryErrorCode.ResourceDoesNotExist, $"Assessment with ID '{assessmentId}' not found for trace '{traceId}'");
}
