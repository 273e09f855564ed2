using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;
using TraceStore.Engine.Assembly;
using TraceStore.Protocol.Model;
using static TraceStore.Engine.Tests.Assembly.OtlpTrace;
using OtlpEvent = OpenTelemetry.Proto.Trace.V1.Span.Types.Event;

namespace TraceStore.Engine.Tests.Assembly;

/// <summary>What <see cref="SpanCopier"/> keeps of a decoded span (mlflow-tracing.md a.2, c.2).</summary>
public sealed class SpanCopierTests
{
    [Fact]
    public void A_resent_span_id_is_kept_once_and_counted_as_duplicate()
    {
        var request = Request("svc", Root(), Span(2, 1, "child"));
        var buffer = Buffer(request);

        Assert.Equal(0, Add(buffer, walSequence: 9, request));
        Assert.Equal(2, buffer.Spans.Count);
        Assert.Equal(2, buffer.DuplicateSpans);
        Assert.Equal(1, buffer.LowestWalSequence);
        Assert.Equal(0, buffer.RootIndex);
        Assert.True(buffer.TryGetSpanIndex(new SpanId(2), out var index));
        Assert.Equal(1, index);
    }

    public static TheoryData<string, object, string> AttributeCases => new()
    {
        { "a plain string is JSON-encoded", "hello", "\"hello\"" },
        { "quotes and newlines are escaped", "say \"hi\"\n", "\"say \\\"hi\\\"\\n\"" },
        { "non-ASCII stays as is", "café ✓", "\"café ✓\"" },
        { "an int", 5, "5" },
        { "a negative int", -42L, "-42" },
        { "a bool", true, "true" },
        { "a whole double keeps .0", 1.0, "1.0" },
        { "an array", new object[] { "a", 1 }, "[\"a\", 1]" },
        { "a string holding a JSON object is kept", """{"a": 1}""", """{"a": 1}""" },
        { "a string holding a JSON string is kept", "\"already\"", "\"already\"" },
        { "a string holding a JSON number is encoded", "5", "\"5\"" },
    };

    [Theory]
    [MemberData(nameof(AttributeCases))]
    public void Attribute_values_are_stored_as_mlflow_json(string name, object value, string expected)
    {
        var buffer = Buffer(Request("svc", Root(attributes: ("k", value))));

        ref readonly var attribute = ref buffer.Attributes[buffer.Spans[0].Attributes.Start];
        Assert.Equal("k", buffer.GetString(attribute.Key));
        Assert.True(expected == buffer.GetString(attribute.Value), $"{name}: {buffer.GetString(attribute.Value)}");
    }

    [Fact]
    public void Event_attributes_are_one_json_object_of_raw_values()
    {
        var span = Root();
        span.Events.Add(new OtlpEvent
        {
            Name = "exception",
            TimeUnixNano = T0 + 5,
            Attributes =
            {
                new KeyValue { Key = "exception.message", Value = Value("boom") },
                new KeyValue { Key = "exception.escaped", Value = Value(false) },
                new KeyValue { Key = "n", Value = Value(3) },
                new KeyValue { Key = "clé<+>", Value = Value("é<") },
            },
        });
        span.Events.Add(new OtlpEvent { Name = "bare", TimeUnixNano = T0 + 6 });
        var buffer = Buffer(Request("svc", span));

        var events = buffer.Events.Slice(buffer.Spans[0].Events);
        Assert.Equal(2, events.Length);
        Assert.Equal("exception", buffer.GetString(events[0].Name));
        Assert.Equal(T0 + 5, events[0].TimeUnixNano);
        Assert.Equal("""{"exception.message": "boom", "exception.escaped": false, "n": 3, "clé<+>": "é<"}""", buffer.GetString(events[0].Attributes));
        Assert.True(events[1].Attributes.IsEmpty);
    }

    /// <summary>MLflow reads OTLP key-value lists into Python dicts: a repeated key keeps its first position and its
    /// last value, in span attributes, event attributes, map values and the resource's service.name.</summary>
    [Fact]
    public void Repeated_keys_keep_their_first_position_and_last_value_as_mlflow_dicts_do()
    {
        var span = Root(attributes:
        [
            ("mlflow.spanInputs", """{"q": "first"}"""), ("k", "a"), ("mlflow.spanInputs", """{"q": "second"}"""), ("n", 1), ("k", "b"),
        ]);
        var map = new KeyValueList
        {
            Values =
            {
                new KeyValue { Key = "x", Value = Value(1) }, new KeyValue { Key = "y", Value = Value(2) },
                new KeyValue { Key = "x", Value = Value(3) },
            },
        };
        span.Attributes.Add(new KeyValue { Key = "map", Value = new AnyValue { KvlistValue = map } });
        span.Events.Add(new OtlpEvent
        {
            Name = "e",
            TimeUnixNano = T0 + 1,
            Attributes = { new KeyValue { Key = "m", Value = Value("one") }, new KeyValue { Key = "z", Value = Value(0) }, new KeyValue { Key = "m", Value = Value("two") } },
        });
        var request = new ExportTraceServiceRequest
        {
            ResourceSpans =
            {
                new ResourceSpans
                {
                    Resource = new Resource { Attributes = { new KeyValue { Key = "service.name", Value = Value("old") }, new KeyValue { Key = "service.name", Value = Value("new") } } },
                    ScopeSpans = { new ScopeSpans { Spans = { span } } },
                },
            },
        };
        var buffer = Buffer(request.ToByteArray());

        var stored = buffer.Spans[0];
        var attributes = buffer.Attributes.Slice(stored.Attributes).ToArray()
            .Select(a => (buffer.GetString(a.Key), buffer.GetString(a.Value))).ToArray();
        Assert.Equal(
            [("mlflow.spanInputs", """{"q": "second"}"""), ("k", "\"b\""), ("n", "1"), ("map", """{"x": 3, "y": 2}""")],
            attributes);
        Assert.Equal("""{"q": "second"}""", buffer.GetString(stored.Inputs));
        Assert.Equal("""{"m": "two", "z": 0}""", buffer.GetString(buffer.Events.Slice(stored.Events)[0].Attributes));
        Assert.Equal("new", buffer.GetString(stored.ServiceName));
    }

    [Fact]
    public void Service_name_ids_times_status_and_genai_facts_are_captured()
    {
        var span = Span(2, 1, "chat", start: T0 + 10, end: T0 + 20, status: OpenTelemetry.Proto.Trace.V1.Status.Types.StatusCode.Error, attributes:
        [
            ("gen_ai.operation.name", "chat"), ("gen_ai.request.model", "gpt-4o"), ("gen_ai.provider.name", "openai"),
            ("gen_ai.input.messages", """[{"role": "user", "content": "hi"}]"""), ("session.id", "s"), ("user.id", "u"),
        ]);
        span.Status.Message = "rate limited";
        var buffer = Buffer(Request("checkout-api", span));

        var stored = buffer.Spans[0];
        Assert.Equal("checkout-api", buffer.GetString(stored.ServiceName));
        Assert.Equal(new SpanId(2), stored.SpanId);
        Assert.Equal(new SpanId(1), stored.ParentSpanId);
        Assert.False(stored.IsRoot);
        Assert.Equal((T0 + 10, T0 + 20), (stored.StartTimeUnixNano, stored.EndTimeUnixNano));
        Assert.Equal(StatusCode.Error, stored.StatusCode);
        Assert.Equal("rate limited", buffer.GetString(stored.StatusMessage));
        Assert.Equal("CHAT_MODEL", buffer.GetString(stored.SpanType));
        Assert.Equal("gpt-4o", buffer.GetString(stored.Model));
        Assert.Equal("openai", buffer.GetString(stored.Provider));
        Assert.Equal("""[{"role": "user", "content": "hi"}]""", buffer.GetString(stored.Inputs));
        Assert.True(stored.Outputs.IsEmpty);
        Assert.Equal(("s", "u"), (buffer.GetString(stored.SessionId), buffer.GetString(stored.UserId)));
        Assert.Equal(1, stored.WalSequence);
        Assert.Equal(-1, buffer.RootIndex);
    }
}
