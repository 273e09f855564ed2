using System.Text.Json;
using TraceStore.Engine.Traces;
using static TraceStore.Engine.Tests.Assembly.OtlpTrace;
using OtlpStatusCode = OpenTelemetry.Proto.Trace.V1.Status.Types.StatusCode;

namespace TraceStore.Engine.Tests.Assembly;

/// <summary>The TraceInfoV3 JSON (mlflow-tracing.md a.1, d) and the time conversions behind it.</summary>
public sealed class TraceInfoJsonTests
{
    [Fact]
    public void Complete_trace_is_written_as_mlflow_trace_info_v3()
    {
        var summary = TraceSummaryBuilder.Build(Buffer(Request("svc",
            Span(1, 0, "agent", start: T0 + (123 * Ms), end: T0 + (1_623 * Ms), status: OtlpStatusCode.Ok, attributes: [("input.value", "q"), ("output.value", "a")]),
            Span(2, 1, "llm", start: T0 + (200 * Ms), end: T0 + (300 * Ms), attributes: ("mlflow.chat.tokenUsage", """{"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}""")))));

        var json = TraceInfoJson.ToJson(summary);

        const string Expected =
            """
            {"trace_id":"tr-0af7651916cd43dd8448eb211c80319c","trace_location":{"type":"MLFLOW_EXPERIMENT","mlflow_experiment":{"experiment_id":"7"}},"request_preview":"\"q\"","response_preview":"\"a\"","request_time":"2025-11-21T04:40:00.123Z","execution_duration":"1.500s","state":"OK","trace_metadata":{"mlflow.trace.sizeStats":"{\"total_size_bytes\": 117, \"num_spans\": 2, \"max\": 83, \"p25\": 46, \"p50\": 58, \"p75\": 70}","mlflow.trace.tokenUsage":"{\"input_tokens\": 1, \"output_tokens\": 2, \"total_tokens\": 3}","mlflow.trace_schema.version":"3"},"tags":{"mlflow.trace.spansLocation":"TRACKING_STORE","mlflow.traceName":"agent"}}
            """;
        Assert.Equal(Expected, json);
    }

    [Fact]
    public void Open_trace_omits_previews_and_duration_and_reports_in_progress()
    {
        using var json = JsonDocument.Parse(TraceInfoJson.ToJson(TraceSummaryBuilder.Build(Buffer(Request("svc", Span(2, 1, "child", end: 0))))));
        var info = json.RootElement;

        Assert.Equal("IN_PROGRESS", info.GetProperty("state").GetString());
        Assert.Equal("2025-11-21T04:40:00Z", info.GetProperty("request_time").GetString());
        Assert.False(info.TryGetProperty("execution_duration", out _));
        Assert.False(info.TryGetProperty("request_preview", out _));
        Assert.False(info.TryGetProperty("response_preview", out _));
        Assert.False(info.GetProperty("tags").TryGetProperty("mlflow.traceName", out _));
    }

    [Fact]
    public void Metadata_values_are_cut_to_250_characters_and_tag_values_to_4096()
    {
        var session = string.Concat(Enumerable.Repeat("\U0001F600", 300));
        var name = new string('n', 5000);
        var summary = TraceSummaryBuilder.Build(Buffer(Request("svc", Root(name, attributes: ("session.id", session)))));
        Assert.Equal(session, summary.SessionId); // the summary keeps the value; only the proto form is cut

        using var json = JsonDocument.Parse(TraceInfoJson.ToJson(summary));
        var written = json.RootElement.GetProperty("trace_metadata").GetProperty("mlflow.trace.session").GetString()!;
        Assert.Equal(250, written.EnumerateRunes().Count());
        Assert.Equal(4096, json.RootElement.GetProperty("tags").GetProperty("mlflow.traceName").GetString()!.Length);
    }

    [Theory]
    [InlineData(TraceState.Ok, "OK")]
    [InlineData(TraceState.Error, "ERROR")]
    [InlineData(TraceState.InProgress, "IN_PROGRESS")]
    [InlineData(TraceState.StateUnspecified, "STATE_UNSPECIFIED")]
    public void State_is_written_by_its_proto_name(TraceState state, string expected) => Assert.Equal(expected, TraceInfoJson.StateName(state));

    [Theory]
    [InlineData(1_500, "1.500s")]
    [InlineData(2_000, "2s")]
    [InlineData(0, "0s")]
    [InlineData(1, "0.001s")]
    [InlineData(61_010, "61.010s")]
    [InlineData(-1_500, "-1.500s")]
    public void Duration_is_written_as_protobuf_json_seconds(long millis, string expected) => Assert.Equal(expected, MlflowTime.DurationJson(millis));

    [Theory]
    [InlineData(0, "1970-01-01T00:00:00Z")]
    [InlineData(1, "1970-01-01T00:00:00.001Z")]
    [InlineData(1_763_700_000_123, "2025-11-21T04:40:00.123Z")]
    [InlineData(1_763_700_060_000, "2025-11-21T04:41:00Z")]
    public void Request_time_is_written_as_an_rfc3339_timestamp(long millis, string expected) => Assert.Equal(expected, MlflowTime.TimestampJson(millis));

    /// <summary>Expected values computed with CPython 3: <c>int(ns // 1e6)</c>.</summary>
    [Theory]
    [InlineData(0UL, 0L)]
    [InlineData(999_999UL, 0L)]
    [InlineData(1_500_000UL, 1L)]
    [InlineData(2_000_000_000UL, 2_000L)]
    [InlineData(1_763_700_000_123_000_000UL, 1_763_700_000_123L)]
    [InlineData(1_763_700_000_000_999_999UL, 1_763_700_000_000L)]
    [InlineData(1_763_700_000_001_000_000UL, 1_763_700_000_000L)] // exact division says ...001: the double rounds below
    [InlineData(1_763_700_000_001_000_063UL, 1_763_700_000_000L)]
    [InlineData(1_763_700_000_001_000_100UL, 1_763_700_000_001L)]
    [InlineData(1_763_700_000_003_500_000UL, 1_763_700_000_003L)]
    [InlineData(18_446_744_073_709_551_615UL, 18_446_744_073_709L)]
    public void Nanoseconds_become_milliseconds_as_python_floor_division_by_1e6(ulong nanos, long expected) =>
        Assert.Equal(expected, MlflowTime.NanosToMillis(nanos));
}
