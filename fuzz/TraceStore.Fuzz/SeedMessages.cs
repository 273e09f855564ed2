using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;

namespace TraceStore.Fuzz;

/// <summary>Seed inputs: the captured payloads of ../shared/testdata/otlp and randomly generated valid requests.</summary>
public static class SeedMessages
{
    /// <summary>The captured payload files (decompressed), by format ("protobuf" or "json").</summary>
    public static IReadOnlyList<byte[]> Captured(string format)
    {
        var folder = TestDataFolder();
        if (folder is null)
        {
            return [];
        }

        var extension = format == "json" ? ".json" : ".pb";
        var seeds = new List<byte[]>();
        foreach (var path in Directory.GetFiles(folder).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(path);
            if (!name.Contains(extension, StringComparison.Ordinal))
            {
                continue;
            }

            var bytes = File.ReadAllBytes(path);
            if (name.EndsWith(".gz", StringComparison.Ordinal))
            {
                using var gzip = new System.IO.Compression.GZipStream(new MemoryStream(bytes), System.IO.Compression.CompressionMode.Decompress);
                using var plain = new MemoryStream();
                gzip.CopyTo(plain);
                bytes = plain.ToArray();
            }

            seeds.Add(bytes);
        }

        return seeds;
    }

    /// <summary>Small valid requests with every field kind, nested values and unicode.</summary>
    public static IReadOnlyList<ExportTraceServiceRequest> Generated(Random random, int count)
    {
        var requests = new List<ExportTraceServiceRequest>();
        for (var i = 0; i < count; i++)
        {
            var request = new ExportTraceServiceRequest();
            var resourceSpans = new ResourceSpans { Resource = new Resource(), SchemaUrl = "https://opentelemetry.io/schemas/1.26.0" };
            resourceSpans.Resource.Attributes.Add(new KeyValue { Key = "service.name", Value = new AnyValue { StringValue = $"svc-{i}" } });
            var scopeSpans = new ScopeSpans { Scope = new InstrumentationScope { Name = "fuzz", Version = "1.0" } };
            for (var s = 0; s < 1 + random.Next(4); s++)
            {
                var span = new Span
                {
                    TraceId = Id(random, 16),
                    SpanId = Id(random, 8),
                    ParentSpanId = s == 0 ? ByteString.Empty : Id(random, 8),
                    Name = s % 2 == 0 ? "ChatOpenAI" : "检索 🔎",
                    Kind = (Span.Types.SpanKind)random.Next(6),
                    StartTimeUnixNano = 1_700_000_000_000_000_000UL + (ulong)random.Next(),
                    EndTimeUnixNano = 1_700_000_000_100_000_000UL + (ulong)random.Next(),
                    Status = new Status { Code = (Status.Types.StatusCode)random.Next(3), Message = "m" },
                    Flags = 0x301,
                };
                span.Attributes.Add(new KeyValue { Key = "mlflow.spanType", Value = new AnyValue { StringValue = "\"LLM\"" } });
                span.Attributes.Add(new KeyValue { Key = "llm.token_count.prompt", Value = new AnyValue { IntValue = random.Next(1000) } });
                span.Attributes.Add(new KeyValue { Key = "nested", Value = Nested(random, 3) });
                span.Events.Add(new Span.Types.Event { Name = "exception", TimeUnixNano = 1, Attributes = { new KeyValue { Key = "exception.message", Value = new AnyValue { StringValue = "boom" } } } });
                span.Links.Add(new Span.Types.Link { TraceId = Id(random, 16), SpanId = Id(random, 8) });
                scopeSpans.Spans.Add(span);
            }

            resourceSpans.ScopeSpans.Add(scopeSpans);
            request.ResourceSpans.Add(resourceSpans);
            requests.Add(request);
        }

        return requests;
    }

    private static AnyValue Nested(Random random, int depth)
    {
        if (depth == 0)
        {
            return random.Next(4) switch
            {
                0 => new AnyValue { DoubleValue = random.NextDouble() },
                1 => new AnyValue { BoolValue = true },
                2 => new AnyValue { BytesValue = Id(random, 4) },
                _ => new AnyValue { StringValue = "ünïcödé" },
            };
        }

        var list = new KeyValueList();
        list.Values.Add(new KeyValue { Key = "k", Value = Nested(random, depth - 1) });
        var array = new ArrayValue();
        array.Values.Add(new AnyValue { KvlistValue = list });
        array.Values.Add(Nested(random, depth - 1));
        return new AnyValue { ArrayValue = array };
    }

    private static ByteString Id(Random random, int size)
    {
        var bytes = new byte[size];
        random.NextBytes(bytes);
        bytes[0] |= 1;
        return ByteString.CopyFrom(bytes);
    }

    private static string? TestDataFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "testdata", "otlp");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
