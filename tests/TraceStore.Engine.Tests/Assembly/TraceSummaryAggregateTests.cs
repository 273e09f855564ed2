using TraceStore.Engine.Traces;
using TraceStore.Protocol.GenAi;
using static TraceStore.Engine.Tests.Assembly.OtlpTrace;
using OtlpStatusCode = OpenTelemetry.Proto.Trace.V1.Status.Types.StatusCode;

namespace TraceStore.Engine.Tests.Assembly;

/// <summary>Aggregates over spans: token usage (nested-span rule), session and user, size stats, and the facts users
/// filter on.</summary>
public sealed class TraceSummaryAggregateTests
{
    private const string Usage10 = """{"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}""";

    [Fact]
    public void Token_usage_counts_a_nested_span_only_when_no_ancestor_reports_usage()
    {
        var summary = TraceSummaryBuilder.Build(Buffer(Request("svc",
            Root(),
            Span(2, 1, "instrumentation llm", attributes: ("mlflow.chat.tokenUsage", Usage10)),
            Span(3, 2, "sdk call", attributes: ("mlflow.chat.tokenUsage", Usage10)), // the same call again: not counted
            Span(4, 3, "deeper", attributes: ("llm.token_count.prompt", 100)), // under two spans with usage: not counted
            Span(5, 1, "tool"),
            Span(6, 5, "second llm", attributes: [("llm.token_count.prompt", 1), ("llm.token_count.completion", 2), ("llm.token_count.prompt_details.cache_read", 4)]))));

        Assert.Equal(new TokenUsage(11, 7, 18, CacheReadInputTokens: 4), summary.TokenUsage);
        Assert.Equal("""{"input_tokens": 11, "output_tokens": 7, "total_tokens": 18, "cache_read_input_tokens": 4}""", summary.Metadata[TraceInfoKeys.TokenUsage]);
    }

    [Fact]
    public void Token_usage_sums_cache_creation_and_treats_a_span_with_a_missing_parent_as_top_level()
    {
        var summary = TraceSummaryBuilder.Build(Buffer(Request("svc",
            Span(2, 1, "orphan a", attributes: [("gen_ai.usage.input_tokens", 3), ("gen_ai.usage.output_tokens", 4), ("gen_ai.usage.cache_creation.input_tokens", 2)]),
            Span(3, 9, "orphan b", attributes: [("gen_ai.usage.input_tokens", 5), ("gen_ai.usage.output_tokens", 6), ("gen_ai.usage.cache_creation.input_tokens", 1)]))));

        Assert.Equal(new TokenUsage(8, 10, 18, CacheCreationInputTokens: 3), summary.TokenUsage);
        Assert.Equal("""{"input_tokens": 8, "output_tokens": 10, "total_tokens": 18, "cache_creation_input_tokens": 3}""", summary.Metadata[TraceInfoKeys.TokenUsage]);
    }

    [Fact]
    public void A_late_parent_with_usage_takes_over_from_its_child()
    {
        var buffer = Buffer(Request("svc", Span(3, 2, "sdk call", attributes: ("mlflow.chat.tokenUsage", Usage10))));
        Assert.Equal(15, TraceSummaryBuilder.Build(buffer).TokenUsage!.Value.TotalTokens);

        Add(buffer, walSequence: 2, Request("svc", Span(2, 1, "llm", attributes: ("mlflow.chat.tokenUsage", """{"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}"""))));
        Assert.Equal(2, TraceSummaryBuilder.Build(buffer).TokenUsage!.Value.TotalTokens);
    }

    [Fact]
    public void No_usage_anywhere_gives_no_token_usage_metadata()
    {
        var summary = TraceSummaryBuilder.Build(Buffer(Request("svc", Root(), Span(2, 1, "tool"))));

        Assert.Null(summary.TokenUsage);
        Assert.False(summary.Metadata.ContainsKey(TraceInfoKeys.TokenUsage));
    }

    [Fact]
    public void Session_and_user_are_the_first_seen_in_arrival_order()
    {
        var summary = TraceSummaryBuilder.Build(Buffer(
            Request("svc", Span(3, 1, "first", attributes: ("session.id", "\"s-1\""))), // JSON-encoded, as MLflow's Python client writes it
            Request("svc", Span(2, 1, "second", attributes: [("session.id", "s-2"), ("user.id", "u-1")]), Root(attributes: ("user.id", "u-2")))));

        Assert.Equal("s-1", summary.SessionId);
        Assert.Equal("u-1", summary.UserId);
        Assert.Equal("s-1", summary.Metadata[TraceInfoKeys.Session]);
        Assert.Equal("u-1", summary.Metadata[TraceInfoKeys.User]);
    }

    [Fact]
    public void Without_session_or_user_there_is_no_such_metadata()
    {
        var summary = TraceSummaryBuilder.Build(Buffer(Request("svc", Root())));

        Assert.Null(summary.SessionId);
        Assert.Null(summary.UserId);
        Assert.Equal([TraceInfoKeys.SizeStats, TraceInfoKeys.SchemaVersion], summary.Metadata.Keys); // ordinal: '.' sorts before '_'
    }

    [Fact]
    public void Size_stats_use_stored_content_bytes_and_mlflow_percentiles()
    {
        // Names only: sizes 10, 20, 30, 40. p25 = index 0.75 → 17.5 → 17; p50 = 25; p75 = index 2.25 → 32.5 → 32.
        var summary = TraceSummaryBuilder.Build(Buffer(Request("svc",
            Span(4, 1, new string('d', 40)), Span(1, 0, new string('a', 10)), Span(3, 1, new string('c', 30)), Span(2, 1, new string('b', 20)))));

        Assert.Equal(new SpanSizeStats(100, 4, 40, 17, 25, 32), summary.SizeStats);
        Assert.Equal("""{"total_size_bytes": 100, "num_spans": 4, "max": 40, "p25": 17, "p50": 25, "p75": 32}""", summary.Metadata[TraceInfoKeys.SizeStats]);
    }

    [Fact]
    public void Span_size_counts_name_status_message_attributes_and_events()
    {
        var span = Span(1, 0, "root", status: OtlpStatusCode.Error, attributes: [("k", "v"), ("n", 12)]);
        span.Status.Message = "boom!";
        span.Events.Add(new OpenTelemetry.Proto.Trace.V1.Span.Types.Event { Name = "ev", TimeUnixNano = T0, Attributes = { new OpenTelemetry.Proto.Common.V1.KeyValue { Key = "a", Value = Value(1) } } });

        var summary = TraceSummaryBuilder.Build(Buffer(Request("svc", span)));

        // "root" 4 + "boom!" 5 + k 1 + "\"v\"" 3 + n 1 + "12" 2 + "ev" 2 + "{\"a\": 1}" 8
        Assert.Equal(26, summary.SizeStats.TotalSizeBytes);
        Assert.Equal(new SpanSizeStats(26, 1, 26, 26, 26, 26), summary.SizeStats);
    }

    [Theory]
    [InlineData(new long[] { 5 }, 0.25, 5)]
    [InlineData(new long[] { 1, 2 }, 0.5, 1)] // 1.5 truncated
    [InlineData(new long[] { 1, 2, 3, 4, 5 }, 0.75, 4)]
    [InlineData(new long[] { 10, 20, 30 }, 0.25, 15)]
    public void Percentile_interpolates_and_truncates_as_mlflow_does(long[] sorted, double percentile, long expected) =>
        Assert.Equal(expected, SpanSize.Percentile(sorted, percentile));

    [Fact]
    public void Filter_facts_are_distinct_in_first_seen_order_and_errors_are_counted()
    {
        var summary = TraceSummaryBuilder.Build(Buffer(
            Request(
                ("frontend", [Root(status: OtlpStatusCode.Error, attributes: ("mlflow.spanType", "\"AGENT\""))]),
                ("llm-gateway", [
                    Span(2, 1, "chat", attributes: [("gen_ai.operation.name", "chat"), ("gen_ai.request.model", "gpt-4o")]),
                    Span(3, 1, "chat again", status: OtlpStatusCode.Error, attributes: [("gen_ai.operation.name", "chat"), ("gen_ai.request.model", "gpt-4o")]),
                    Span(4, 1, "embed", attributes: [("openinference.span.kind", "EMBEDDING"), ("embedding.model_name", "text-embedding-3-small")]),
                ])),
            Request("frontend", Span(5, 1, "plain"))));

        Assert.Equal(["frontend", "llm-gateway"], summary.ServiceNames);
        Assert.Equal(["gpt-4o", "text-embedding-3-small"], summary.Models);
        Assert.Equal(["AGENT", "CHAT_MODEL", "EMBEDDING", "UNKNOWN"], summary.SpanTypes);
        Assert.Equal(2, summary.ErrorSpanCount);
        Assert.Equal(5, summary.SpanCount);
    }
}
