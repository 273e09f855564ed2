using System.Text;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;

namespace TraceStore.OtlpOracle;

/// <summary>
/// Deterministic export requests for decoder benchmarks: "small" spans of about 400 bytes (HTTP-style attributes)
/// and "genai" spans of about 4 KB (an LLM call with JSON inputs and outputs, token counts, model). Both are about
/// 1 MB per request, the size of a busy BatchSpanProcessor export. By default every span has its own random trace id
/// (what the decoder benchmarks measure); with <c>spansPerTrace</c> above 1 the spans come in traces of that many: the
/// first of each trace is its root and the parent of the others (what the sealing benchmarks need: traces that complete).
/// </summary>
public static class OtlpBenchmarkPayloads
{
    public const string Small = "small";
    public const string GenAi = "genai";

    /// <summary>"genai" spans whose inputs and outputs are drawn from a 20,000-word vocabulary with Zipf-like
    /// frequencies instead of 15 words: text that compresses about as real prose does (zstd about 2-3x, where the 15-word
    /// text compresses tens of times), for measuring bytes on disk. Not used by the decoder benchmarks.</summary>
    public const string GenAiVariedText = "genai-text";

    private static readonly Lazy<string[]> Vocabulary = new(() =>
    {
        var random = new Random(20_000);
        return [.. Enumerable.Range(0, 20_000).Select(_ => new string([.. Enumerable.Range(0, random.Next(2, 11)).Select(_ => (char)('a' + random.Next(26)))]))];
    });

    private static readonly string[] Words =
        ["the", "order", "refund", "policy", "shipping", "invoice", "customer", "asked", "about", "delivery", "damaged", "items", "ünïcödé", "€", "日本"];

    public static ExportTraceServiceRequest Create(string kind, int seed = 1, int spansPerTrace = 1) => kind switch
    {
        Small => Build(2600, seed, spansPerTrace, SmallSpan),
        GenAi => Build(250, seed, spansPerTrace, (random, i) => GenAiSpan(random, i, Words)),
        GenAiVariedText => Build(250, seed, spansPerTrace, (random, i) => GenAiSpan(random, i, null)),
        _ => throw new ArgumentException($"Unknown payload kind {kind}; use {Small} or {GenAi}.", nameof(kind)),
    };

    /// <summary>OTLP/JSON of the request, ids as hex.</summary>
    public static string Json(ExportTraceServiceRequest request) => OtlpJson.Format(request);

    private static ExportTraceServiceRequest Build(int spanCount, int seed, int spansPerTrace, Func<Random, int, Span> span)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(spansPerTrace, 1);
        var random = new Random(seed);
        var resource = new Resource();
        resource.Attributes.Add(Attribute("service.name", "support-rag-agent"));
        resource.Attributes.Add(Attribute("telemetry.sdk.language", "python"));
        resource.Attributes.Add(Attribute("telemetry.sdk.version", "1.20.1"));
        var scope = new ScopeSpans { Scope = new InstrumentationScope { Name = "openinference.instrumentation.openai", Version = "0.1.2" } };
        Span? root = null;
        for (var i = 0; i < spanCount; i++)
        {
            // Every span draws its own ids either way, so the default (one span per trace) stays byte for byte what the
            // decoder benchmarks have always measured.
            var next = span(random, i);
            if (spansPerTrace > 1)
            {
                if (i % spansPerTrace == 0)
                {
                    root = next;
                    next.ParentSpanId = ByteString.Empty;
                }
                else
                {
                    next.TraceId = root!.TraceId;
                    next.ParentSpanId = root.SpanId;
                }
            }

            scope.Spans.Add(next);
        }

        var resourceSpans = new ResourceSpans { Resource = resource };
        resourceSpans.ScopeSpans.Add(scope);
        var request = new ExportTraceServiceRequest();
        request.ResourceSpans.Add(resourceSpans);
        return request;
    }

    private static Span Common(Random random, int i, string name)
    {
        var start = 1_763_700_000_000_000_000UL + ((ulong)i * 1_000_000);
        return new Span
        {
            TraceId = Id(random, 16),
            SpanId = Id(random, 8),
            ParentSpanId = i % 8 == 0 ? ByteString.Empty : Id(random, 8),
            Name = name,
            Kind = Span.Types.SpanKind.Internal,
            StartTimeUnixNano = start,
            EndTimeUnixNano = start + (ulong)random.Next(1_000, 2_000_000_000),
            Status = new Status { Code = i % 20 == 0 ? Status.Types.StatusCode.Error : Status.Types.StatusCode.Ok },
        };
    }

    private static Span SmallSpan(Random random, int i)
    {
        var span = Common(random, i, "GET /api/orders/{id}");
        span.Kind = Span.Types.SpanKind.Server;
        span.Attributes.Add(Attribute("http.request.method", "GET"));
        span.Attributes.Add(Attribute("url.path", $"/api/orders/{random.Next(100_000)}"));
        span.Attributes.Add(Attribute("http.response.status_code", 200));
        span.Attributes.Add(Attribute("server.address", "orders.internal"));
        span.Attributes.Add(Attribute("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"));
        span.Attributes.Add(Attribute("session.id", $"sess-{random.Next(1000):x4}"));
        span.Attributes.Add(Attribute("network.peer.port", random.Next(1024, 65535)));
        span.Events.Add(new Span.Types.Event { Name = "cache.miss", TimeUnixNano = span.StartTimeUnixNano + 10, Attributes = { Attribute("cache.key", "orders:v2") } });
        return span;
    }

    /// <param name="words">The vocabulary drawn from uniformly, or null for the 20,000-word Zipf-like one.</param>
    private static Span GenAiSpan(Random random, int i, string[]? words)
    {
        var span = Common(random, i, "ChatCompletion");
        span.Attributes.Add(Attribute("openinference.span.kind", "LLM"));
        span.Attributes.Add(Attribute("llm.model_name", "gpt-4.1-mini"));
        span.Attributes.Add(Attribute("llm.provider", "openai"));
        span.Attributes.Add(Attribute("input.value", Messages(random, 1700, words)));
        span.Attributes.Add(Attribute("input.mime_type", "application/json"));
        span.Attributes.Add(Attribute("output.value", Messages(random, 1700, words)));
        span.Attributes.Add(Attribute("output.mime_type", "application/json"));
        span.Attributes.Add(Attribute("llm.token_count.prompt", random.Next(100, 4000)));
        span.Attributes.Add(Attribute("llm.token_count.completion", random.Next(10, 800)));
        span.Attributes.Add(Attribute("llm.token_count.total", random.Next(110, 4800)));
        span.Attributes.Add(Attribute("session.id", $"sess-{random.Next(1000):x4}"));
        span.Attributes.Add(new KeyValue
        {
            Key = "llm.invocation_parameters",
            Value = new AnyValue { KvlistValue = new KeyValueList { Values = { Attribute("temperature", 0.2), Attribute("max_tokens", 512), Attribute("stream", false) } } },
        });
        return span;
    }

    private static string Messages(Random random, int bytes, string[]? words)
    {
        var text = new StringBuilder("{\"messages\": [{\"role\": \"user\", \"content\": \"");
        while (text.Length < bytes - 4)
        {
            // Zipf-like: rank = 20,000 * u^4 makes the few common words most of the text.
            var word = words is null ? Vocabulary.Value[(int)(Vocabulary.Value.Length * Math.Pow(random.NextDouble(), 4))] : words[random.Next(words.Length)];
            text.Append(word).Append(' ');
        }

        return text.Append("\"}]}").ToString();
    }

    private static KeyValue Attribute(string key, string value) => new() { Key = key, Value = new AnyValue { StringValue = value } };

    private static KeyValue Attribute(string key, long value) => new() { Key = key, Value = new AnyValue { IntValue = value } };

    private static KeyValue Attribute(string key, double value) => new() { Key = key, Value = new AnyValue { DoubleValue = value } };

    private static KeyValue Attribute(string key, bool value) => new() { Key = key, Value = new AnyValue { BoolValue = value } };

    private static ByteString Id(Random random, int size)
    {
        var bytes = new byte[size];
        random.NextBytes(bytes);
        bytes[0] |= 1;
        return ByteString.CopyFrom(bytes);
    }
}
