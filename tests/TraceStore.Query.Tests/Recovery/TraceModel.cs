using System.Buffers.Binary;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;
using OtlpStatusCode = OpenTelemetry.Proto.Trace.V1.Status.Types.StatusCode;

namespace TraceStore.Query.Tests.Recovery;

/// <summary>A span event of the model: name, time, and an optional string attribute "detail".</summary>
internal sealed record ModelEvent(string Name, ulong TimeNs, string? Detail);

/// <summary>
/// One span as a client sends it, with the GenAI facts the store derives from attributes kept as separate fields
/// (MLflow's own keys: <c>mlflow.spanType</c>, <c>mlflow.llm.model</c>, <c>mlflow.spanInputs</c> and
/// <c>mlflow.spanOutputs</c> as JSON object text, <c>mlflow.chat.tokenUsage</c>, <c>session.id</c>), so expectations
/// can be computed from the model without the store's code. <see cref="EndNs"/> 0: the span has not ended.
/// </summary>
internal sealed record ModelSpan(
    ulong SpanId,
    ulong ParentSpanId,
    string Name,
    ulong StartNs,
    ulong EndNs,
    OtlpStatusCode Status,
    string? StatusMessage,
    string Service,
    IReadOnlyList<(string Key, object Value)> Attributes,
    string? SpanType,
    string? Model,
    string? Inputs,
    string? Outputs,
    (long Input, long Output)? Usage,
    string? SessionId,
    IReadOnlyList<ModelEvent> Events)
{
    public bool IsRoot => ParentSpanId == 0;

    /// <summary>Every attribute as sent, GenAI ones included, in the order sent.</summary>
    public IEnumerable<(string Key, object Value)> AllAttributes()
    {
        foreach (var attribute in Attributes)
        {
            yield return attribute;
        }

        if (SpanType is not null)
        {
            yield return ("mlflow.spanType", SpanType);
        }

        if (Model is not null)
        {
            yield return ("mlflow.llm.model", Model);
        }

        if (Inputs is not null)
        {
            yield return ("mlflow.spanInputs", Inputs);
        }

        if (Outputs is not null)
        {
            yield return ("mlflow.spanOutputs", Outputs);
        }

        if (Usage is { } usage)
        {
            yield return ("mlflow.chat.tokenUsage", $"{{\"input_tokens\": {usage.Input}, \"output_tokens\": {usage.Output}, \"total_tokens\": {usage.Input + usage.Output}}}");
        }

        if (SessionId is not null)
        {
            yield return ("session.id", SessionId);
        }
    }
}

/// <summary>A trace of the model: its experiment, its 16-byte id, and its spans (the root first, exactly one root).</summary>
internal sealed record ModelTrace(string Experiment, byte[] TraceIdBytes, IReadOnlyList<ModelSpan> Spans)
{
    public string MlflowId => "tr-" + Convert.ToHexStringLower(TraceIdBytes);

    public ModelSpan Root => Spans.Single(s => s.IsRoot);
}

/// <summary>
/// Random traces for the arrival-order property: tree shapes, attributes of every plain type, inputs and outputs
/// (some longer than a preview), token usage at several levels of the tree, events, error statuses, open spans,
/// sessions, several services and two experiments.
/// <para>Times are T0 + k × 4 ms + r with r below 0.5 ms: at 1.76e18 ns doubles are 256 ns apart, and 4 ms is a
/// multiple of both 256 ns and 1 ms, so MLflow's float arithmetic (<c>ns // 1e6</c> on doubles) and integer division
/// agree here, and expectations can use the latter.</para>
/// </summary>
internal static class TraceModels
{
    public const ulong T0 = 1_763_700_000_000_000_000UL;
    private const ulong Step = 4_000_000UL;
    private static readonly string[] Words = ["alpha", "beta", "gamma", "delta", "café", "naïve", "say \"hi\"", "back\\slash", "tab\there", "x"];
    private static readonly string[] Services = ["svc-a", "svc-b", "svc-c"];
    private static readonly string[] SpanTypes = ["LLM", "TOOL", "CHAIN", "RETRIEVER"];
    private static readonly string[] Models = ["gpt-4o", "claude-3"];

    /// <summary><paramref name="traceCount"/> traces of 1 to 7 spans each (exactly <paramref name="spansPerTrace"/> when
    /// given): the root first, every other span under a random earlier one.</summary>
    public static List<ModelTrace> Generate(Random random, int traceCount, int? spansPerTrace = null)
    {
        var traces = new List<ModelTrace>(traceCount);
        for (var t = 0; t < traceCount; t++)
        {
            var traceId = new byte[16];
            random.NextBytes(traceId);
            traceId[0] |= 1;
            var session = random.Next(2) == 0 ? $"sess-{t}-{random.Next(100)}" : null;
            var count = spansPerTrace ?? random.Next(1, 8);
            var spans = new List<ModelSpan>(count);
            var ids = new List<ulong>(count);
            for (var i = 0; i < count; i++)
            {
                ulong id;
                do
                {
                    id = (ulong)random.NextInt64(1, long.MaxValue);
                }
                while (ids.Contains(id));

                ids.Add(id);
                spans.Add(Span(random, t, i, id, i == 0 ? 0 : ids[random.Next(i)], session));
            }

            // The session is on at least one span when the trace has one.
            if (session is not null && spans.All(s => s.SessionId is null))
            {
                var at = random.Next(count);
                spans[at] = spans[at] with { SessionId = session };
            }

            traces.Add(new ModelTrace(random.Next(3) == 0 ? "exp-7" : "0", traceId, spans));
        }

        return traces;
    }

    private static ModelSpan Span(Random random, int trace, int index, ulong id, ulong parent, string? session)
    {
        var startStep = (ulong)random.Next(0, 40);
        var start = T0 + (((ulong)trace * 1000UL) + startStep) * Step + (ulong)random.Next(0, 500_000);
        var ended = parent == 0 ? random.Next(10) != 0 : random.Next(8) != 0;
        var end = ended ? T0 + (((ulong)trace * 1000UL) + startStep + (ulong)random.Next(1, 20)) * Step + (ulong)random.Next(0, 500_000) : 0;
        var status = random.Next(10) switch { < 6 => OtlpStatusCode.Unset, < 8 => OtlpStatusCode.Ok, _ => OtlpStatusCode.Error };
        var attributes = new List<(string, object)>();
        foreach (var key in new[] { "attr.word", "attr.count", "attr.flag", "attr.text" })
        {
            if (random.Next(2) == 0)
            {
                attributes.Add(key switch
                {
                    "attr.word" => (key, Word(random)),
                    "attr.count" => (key, random.NextInt64(-1_000_000, 1_000_000)),
                    "attr.flag" => (key, random.Next(2) == 0),
                    _ => (key, $"{Word(random)} {Word(random)} {index}"),
                });
            }
        }

        var events = new List<ModelEvent>();
        for (var e = random.Next(0, 3); e > 0; e--)
        {
            events.Add(new ModelEvent($"event-{e}", start + (ulong)(e * 1000), random.Next(2) == 0 ? $"detail{random.Next(100)}" : null));
        }

        return new ModelSpan(
            id,
            parent,
            $"t{trace}-s{index}-{Word(random)}",
            start,
            end,
            status,
            status == OtlpStatusCode.Error && random.Next(2) == 0 ? $"failed: {Word(random)}" : null,
            Services[random.Next(Services.Length)],
            attributes,
            random.Next(2) == 0 ? SpanTypes[random.Next(SpanTypes.Length)] : null,
            random.Next(4) == 0 ? Models[random.Next(Models.Length)] : null,
            random.Next(10) < (parent == 0 ? 8 : 3) ? $"{{\"question\": \"{Long(random)}\"}}" : null,
            random.Next(10) < (parent == 0 ? 7 : 3) ? $"{{\"answer\": \"{Long(random)}\"}}" : null,
            random.Next(10) < 3 ? (random.Next(0, 5000), random.Next(0, 5000)) : null,
            session is not null && random.Next(3) == 0 ? session : null,
            events);
    }

    private static string Word(Random random) => Words[random.Next(Words.Length)];

    /// <summary>ASCII text for inputs and outputs, sometimes longer than MLflow's 1000-character preview.</summary>
    private static string Long(Random random) =>
        random.Next(8) == 0 ? new string((char)('a' + random.Next(26)), random.Next(990, 1100)) : $"text {random.Next(100_000)}";

    /// <summary>One OTLP request holding <paramref name="spans"/> (all of one experiment): one resource per service.</summary>
    public static byte[] Request(IEnumerable<(ModelTrace Trace, ModelSpan Span)> spans)
    {
        var request = new ExportTraceServiceRequest();
        foreach (var group in spans.GroupBy(s => s.Span.Service))
        {
            var scope = new ScopeSpans();
            scope.Spans.AddRange(group.Select(s => ToOtlp(s.Trace, s.Span)));
            request.ResourceSpans.Add(new ResourceSpans
            {
                Resource = new Resource { Attributes = { new KeyValue { Key = "service.name", Value = new AnyValue { StringValue = group.Key } } } },
                ScopeSpans = { scope },
            });
        }

        return request.ToByteArray();
    }

    private static Span ToOtlp(ModelTrace trace, ModelSpan span)
    {
        var otlp = new Span
        {
            TraceId = ByteString.CopyFrom(trace.TraceIdBytes),
            SpanId = ByteString.CopyFrom(IdBytes(span.SpanId)),
            ParentSpanId = span.IsRoot ? ByteString.Empty : ByteString.CopyFrom(IdBytes(span.ParentSpanId)),
            Name = span.Name,
            StartTimeUnixNano = span.StartNs,
            EndTimeUnixNano = span.EndNs,
            Status = new Status { Code = span.Status, Message = span.StatusMessage ?? "" },
        };
        foreach (var (key, value) in span.AllAttributes())
        {
            otlp.Attributes.Add(new KeyValue { Key = key, Value = Value(value) });
        }

        foreach (var e in span.Events)
        {
            var otlpEvent = new Span.Types.Event { Name = e.Name, TimeUnixNano = e.TimeNs };
            if (e.Detail is not null)
            {
                otlpEvent.Attributes.Add(new KeyValue { Key = "detail", Value = Value(e.Detail) });
            }

            otlp.Events.Add(otlpEvent);
        }

        return otlp;
    }

    private static AnyValue Value(object value) => value switch
    {
        string s => new AnyValue { StringValue = s },
        long l => new AnyValue { IntValue = l },
        bool b => new AnyValue { BoolValue = b },
        _ => throw new ArgumentException($"No AnyValue for {value.GetType()}", nameof(value)),
    };

    public static string SpanIdHex(ulong id) => Convert.ToHexStringLower(IdBytes(id));

    private static byte[] IdBytes(ulong id)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, id);
        return bytes;
    }
}
