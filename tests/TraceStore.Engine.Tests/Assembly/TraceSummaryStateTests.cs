using TraceStore.Engine.Traces;
using static TraceStore.Engine.Tests.Assembly.OtlpTrace;
using OtlpStatusCode = OpenTelemetry.Proto.Trace.V1.Status.Types.StatusCode;

namespace TraceStore.Engine.Tests.Assembly;

/// <summary>TraceInfo state, root, previews and times as mlflow-tracing.md c.3 derives them, through the real
/// encode → decode → copy path.</summary>
public sealed class TraceSummaryStateTests
{
    [Fact]
    public void Root_missing_gives_in_progress_without_previews_or_trace_name()
    {
        var summary = TraceSummaryBuilder.Build(Buffer(Request("svc",
            Span(2, 1, "child-a", attributes: ("input.value", "question")),
            Span(3, 2, "child-b"))));

        Assert.Equal(TraceState.InProgress, summary.State);
        Assert.Null(summary.RequestPreview);
        Assert.Null(summary.ResponsePreview);
        Assert.Null(summary.TraceName);
        Assert.False(summary.Tags.ContainsKey(TraceInfoKeys.TraceNameTag));
        Assert.Equal("TRACKING_STORE", summary.Tags[TraceInfoKeys.SpansLocationTag]);
        Assert.Equal(2, summary.SpanCount);
    }

    [Fact]
    public void Root_arriving_in_a_later_batch_sets_state_previews_and_trace_name()
    {
        var buffer = Buffer(Request("svc", Span(2, 1, "child", start: T0 + (5 * Ms), end: T0 + (6 * Ms))));
        Assert.Equal(TraceState.InProgress, TraceSummaryBuilder.Build(buffer).State);

        Add(buffer, walSequence: 2, Request("svc", Span(1, 0, "agent", start: T0, end: T0 + (30 * Ms), status: OtlpStatusCode.Ok,
            attributes: [("input.value", "Hello, world!"), ("output.value", "Hi")])));
        var summary = TraceSummaryBuilder.Build(buffer);

        Assert.Equal(TraceState.Ok, summary.State);
        Assert.Equal("\"Hello, world!\"", summary.RequestPreview); // MLflow's own OTLP test expects the JSON text
        Assert.Equal("\"Hi\"", summary.ResponsePreview);
        Assert.Equal("agent", summary.TraceName);
        Assert.Equal("agent", summary.Tags[TraceInfoKeys.TraceNameTag]);
        Assert.Equal(1_763_700_000_000, summary.RequestTimeMs);
        Assert.Equal(30, summary.ExecutionDurationMs);
        Assert.Equal(1, summary.LowestWalSequence);
    }

    [Theory]
    [InlineData(OtlpStatusCode.Ok, TraceState.Ok)]
    [InlineData(OtlpStatusCode.Unset, TraceState.Ok)] // plain OTel SDKs end spans UNSET; c.3 maps it to OK
    [InlineData(OtlpStatusCode.Error, TraceState.Error)]
    public void State_comes_from_the_root_status(OtlpStatusCode rootStatus, TraceState expected)
    {
        var summary = TraceSummaryBuilder.Build(Buffer(Request("svc",
            Span(2, 1, "child", status: OtlpStatusCode.Error),
            Root(status: rootStatus))));

        Assert.Equal(expected, summary.State);
        Assert.Equal(rootStatus == OtlpStatusCode.Error ? 2 : 1, summary.ErrorSpanCount);
    }

    [Fact]
    public void With_several_roots_the_first_received_decides_state_previews_and_name()
    {
        var summary = TraceSummaryBuilder.Build(Buffer(
            Request("svc", Span(5, 0, "first", status: OtlpStatusCode.Error, attributes: ("input.value", "one"))),
            Request("svc", Span(6, 0, "second", status: OtlpStatusCode.Ok, attributes: ("input.value", "two")))));

        Assert.Equal(TraceState.Error, summary.State);
        Assert.Equal("first", summary.TraceName);
        Assert.Equal("\"one\"", summary.RequestPreview);
    }

    [Fact]
    public void Root_without_inputs_or_outputs_has_no_previews()
    {
        var summary = TraceSummaryBuilder.Build(Buffer(Request("svc", Root())));

        Assert.Equal(TraceState.Ok, summary.State);
        Assert.Null(summary.RequestPreview);
        Assert.Null(summary.ResponsePreview);
    }

    /// <summary>The JSON text of a string input of n characters is n + 2 characters long (its quotes).</summary>
    [Theory]
    [InlineData(999, false)]
    [InlineData(1000, false)]
    [InlineData(1001, true)]
    [InlineData(5000, true)]
    public void Preview_keeps_up_to_1000_characters_and_cuts_longer_text_to_997_plus_ellipsis(int previewLength, bool cut)
    {
        var value = new string('x', previewLength - 2);
        var summary = TraceSummaryBuilder.Build(Buffer(Request("svc", Root(attributes: [("input.value", value), ("output.value", value)]))));

        var json = $"\"{value}\"";
        var expected = cut ? json[..997] + "..." : json;
        Assert.Equal(expected, summary.RequestPreview);
        Assert.Equal(expected, summary.ResponsePreview);
        Assert.Equal(Math.Min(previewLength, 1000), summary.RequestPreview!.Length);
    }

    public static TheoryData<string, string> NonBmpCases => new()
    {
        // 996 x then emoji: the 997th code point is the emoji, which must be kept whole (UTF-16 would split it).
        { "around the cut", new string('x', 995) + string.Concat(Enumerable.Repeat("\U0001F600", 10)) },
        // 1000 code points but 1500 UTF-16 units: not longer than the limit, kept whole.
        { "exactly 1000 code points", new string('x', 498) + string.Concat(Enumerable.Repeat("\U0001F600", 500)) },
        // 1001 code points, all astral.
        { "1001 astral code points", string.Concat(Enumerable.Repeat("\U00010348", 999)) },
    };

    [Theory]
    [MemberData(nameof(NonBmpCases))]
    public void Preview_counts_code_points_not_utf16_units(string name, string value)
    {
        var summary = TraceSummaryBuilder.Build(Buffer(Request("svc", Root(attributes: ("input.value", value)))));

        var json = $"\"{value}\"";
        var runes = json.EnumerateRunes().Select(r => r.ToString()).ToList();
        var expected = runes.Count <= 1000 ? json : string.Concat(runes.Take(997)) + "...";
        Assert.True(expected == summary.RequestPreview, name);
        Assert.True(summary.RequestPreview!.EnumerateRunes().All(r => r.Value != 0xFFFD), "no half surrogate pair");
    }

    [Fact]
    public void Request_time_is_the_earliest_start_and_duration_runs_to_the_latest_end()
    {
        // The earliest start is neither the root's nor in the first batch; one span has not ended.
        var summary = TraceSummaryBuilder.Build(Buffer(
            Request("svc", Span(3, 1, "late-start", start: T0 + (40 * Ms), end: T0 + (1_500 * Ms))),
            Request("svc", Span(1, 0, "root", start: T0 + (300 * Ms), end: T0 + (1_200 * Ms)), Span(2, 1, "earliest", start: T0 + (30 * Ms), end: T0 + (200 * Ms)), Span(4, 1, "open", start: T0 + (123 * Ms), end: 0))));

        Assert.Equal(1_763_700_000_030, summary.RequestTimeMs);
        Assert.Equal(1_470, summary.ExecutionDurationMs);
    }

    [Fact]
    public void Duration_is_null_while_no_span_has_ended()
    {
        var summary = TraceSummaryBuilder.Build(Buffer(Request("svc", Span(1, 0, "root", start: T0 + 123_456_789, end: 0), Span(2, 1, "child", start: T0 + (200 * Ms), end: 0))));

        Assert.Null(summary.ExecutionDurationMs);
        Assert.Equal(1_763_700_000_123, summary.RequestTimeMs);
    }

    [Fact]
    public void Start_and_end_are_floored_separately_as_python_floor_division_by_1e6_does()
    {
        // 1_763_700_000_001_000_000 ns is not a double; it rounds to ...000_999_936, so Python's // 1e6 gives ...000 ms.
        var summary = TraceSummaryBuilder.Build(Buffer(Request("svc", Span(1, 0, "root", start: T0 + Ms, end: T0 + (3 * Ms) + 500_000))));

        Assert.Equal(1_763_700_000_000, summary.RequestTimeMs);
        Assert.Equal(3, summary.ExecutionDurationMs);
    }

    [Fact]
    public void A_resent_span_is_counted_once()
    {
        var request = Request("svc", Root(), Span(2, 1, "llm", attributes: ("mlflow.chat.tokenUsage", """{"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}""")));
        var buffer = Buffer(request);
        Assert.Equal(0, Add(buffer, walSequence: 2, request));

        var summary = TraceSummaryBuilder.Build(buffer);
        Assert.Equal(2, summary.SpanCount);
        Assert.Equal(7, summary.TokenUsage!.Value.TotalTokens);
        Assert.Equal(1, summary.LowestWalSequence);
    }

    [Fact]
    public void Identity_fields_come_from_the_buffer_key()
    {
        var summary = TraceSummaryBuilder.Build(Buffer(Request("svc", Root())));

        Assert.Equal("7", summary.ExperimentId);
        Assert.Equal("tr-0af7651916cd43dd8448eb211c80319c", summary.TraceId);
        Assert.Equal("3", summary.Metadata[TraceInfoKeys.SchemaVersion]);
    }
}
