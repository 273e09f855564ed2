using TraceStore.Engine.Catalog;
using TraceStore.Query.Traces;
using TraceStore.Testing;

namespace TraceStore.Query.Tests.Traces;

public sealed class TraceAssessmentsTests : IDisposable
{
    private readonly TempDirectory _folder = new("assessments");
    private readonly SegmentCatalog _catalog;
    private readonly TraceReader _reader;
    private readonly TraceAssessments _assessments;

    public TraceAssessmentsTests()
    {
        _catalog = SealedTraces.Create(_folder.Path);
        _reader = new TraceReader(_catalog);
        _assessments = new TraceAssessments(_catalog, _reader);
    }

    public void Dispose()
    {
        _reader.Dispose();
        _catalog.Dispose();
        _folder.Dispose();
    }

    [Fact]
    public void Created_assessment_is_stored_durably_with_an_a_prefixed_id()
    {
        var created = _assessments.Create(SealedTraces.Id(1), Feedback("relevance", "true", metadata: new Dictionary<string, string> { ["judge"] = "gpt" }));

        Assert.Matches("^a-[0-9a-f]{32}$", created.AssessmentId);
        Assert.True(created.Valid);
        var read = _assessments.Get(SealedTraces.Id(1), created.AssessmentId);
        Assert.Equal(created.ValueJson, read.ValueJson);
        Assert.Equal("gpt", read.Metadata["judge"]);
        Assert.Equal("feedback", read.Type);
        Assert.Single(_assessments.ForTrace(SealedTraces.Id(1)));
        Assert.Empty(_assessments.ForTrace(SealedTraces.Id(2)));
    }

    [Fact]
    public void Override_marks_the_old_one_invalid_and_deleting_the_new_one_restores_it()
    {
        var old = _assessments.Create(SealedTraces.Id(1), Feedback("relevance", "false"));
        var replacement = _assessments.Create(SealedTraces.Id(1), Feedback("relevance", "true") with { Overrides = old.AssessmentId });

        Assert.False(_assessments.Get(SealedTraces.Id(1), old.AssessmentId).Valid);
        Assert.Equal(2, _assessments.ForTrace(SealedTraces.Id(1)).Count);

        _assessments.Delete(SealedTraces.Id(1), replacement.AssessmentId);
        Assert.True(_assessments.Get(SealedTraces.Id(1), old.AssessmentId).Valid);
        _assessments.Delete(SealedTraces.Id(1), replacement.AssessmentId);
    }

    [Fact]
    public void Override_of_a_missing_assessment_is_not_found()
    {
        var error = Assert.Throws<TraceStoreQueryException>(() => _assessments.Create(SealedTraces.Id(1), Feedback("r", "1") with { Overrides = "a-missing" }));
        Assert.Equal($"Assessment with ID 'a-missing' not found for trace '{SealedTraces.Id(1)}'", error.Message);
    }

    [Fact]
    public void Update_applies_only_the_masked_fields_merges_metadata_and_keeps_the_kind()
    {
        var created = _assessments.Create(SealedTraces.Id(1), Feedback("relevance", "1", rationale: "first", metadata: new Dictionary<string, string> { ["a"] = "1" }));

        var updated = _assessments.Update(
            SealedTraces.Id(1),
            created.AssessmentId,
            Feedback("renamed", "2", rationale: "second", metadata: new Dictionary<string, string> { ["b"] = "2" }),
            ["rationale", "metadata"]);

        Assert.Equal("relevance", updated.Name);
        Assert.Equal("second", updated.Rationale);
        Assert.Equal(created.ValueJson, updated.ValueJson);
        Assert.Equal(new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" }, updated.Metadata);

        var kindChange = Assert.Throws<TraceStoreQueryException>(() => _assessments.Update(
            SealedTraces.Id(1), created.AssessmentId, new AssessmentInput("x", AssessmentKind.Expectation, """{"value": 1}"""), ["expectation"]));
        Assert.Contains("cannot change", kindChange.Message, StringComparison.Ordinal);
        var badPath = Assert.Throws<TraceStoreQueryException>(() => _assessments.Update(SealedTraces.Id(1), created.AssessmentId, Feedback("x", "1"), ["source"]));
        Assert.Equal(QueryErrorCode.InvalidParameterValue, badPath.Code);
    }

    [Fact]
    public void Assessment_on_a_missing_trace_is_not_found()
    {
        var error = Assert.Throws<TraceStoreQueryException>(() => _assessments.Create(SealedTraces.Id(99), Feedback("r", "1")));
        Assert.Equal(QueryErrorCode.ResourceDoesNotExist, error.Code);
        Assert.Equal($"Trace with request_id '{SealedTraces.Id(99)}' not found", error.Message);
    }

    [Fact]
    public void Assessment_of_another_trace_is_not_found_under_this_one()
    {
        var created = _assessments.Create(SealedTraces.Id(1), Feedback("r", "1"));
        Assert.Throws<TraceStoreQueryException>(() => _assessments.Get(SealedTraces.Id(2), created.AssessmentId));
    }

    private static AssessmentInput Feedback(string name, string valueJson, string? rationale = null, Dictionary<string, string>? metadata = null) =>
        new(name, AssessmentKind.Feedback, $$"""{"value": {{valueJson}}}""", "HUMAN", "reviewer-1", Rationale: rationale, Metadata: metadata);
}
