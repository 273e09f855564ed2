using System.Text;

namespace TraceStore.Benchmarks.DuckDb;

/// <summary>
/// A deterministic set of span-like rows (seeded), held the way the decoder will hand spans over: UTF-8
/// slices in one arena plus fixed-width fields, so the benchmarks measure appending, not string encoding.
/// Shape per row: trace_id (32 hex), span_id (16 hex), parent_span_id (16 hex, NULL for the 1 in 8 roots),
/// name (10–16 bytes), kind, start_ns, end_ns, status_code, attributes (JSON, 90–400 bytes).
/// </summary>
public sealed class SpanRows
{
    public const string CreateTableSql =
        "CREATE OR REPLACE TABLE spans (trace_id VARCHAR, span_id VARCHAR, parent_span_id VARCHAR, name VARCHAR, " +
        "kind INTEGER, start_ns BIGINT, end_ns BIGINT, status_code INTEGER, attributes VARCHAR)";

    private static readonly string[] Names = ["ChatOpenAI", "retriever.search", "llm.completion", "tool.call.search", "agent.step", "embeddings"];
    private static readonly string[] Models = ["gpt-4o-mini", "claude-3-5-sonnet", "llama-3.1-70b-instruct"];
    private static readonly string[] Words = ["the", "trace", "of", "a", "retrieval", "augmented", "answer", "with", "citations", "from", "documents", "about", "observability"];

    private readonly byte[] _arena;
    private readonly Slice[] _traceId;
    private readonly Slice[] _spanId;
    private readonly Slice[] _parentSpanId;
    private readonly Slice[] _name;
    private readonly Slice[] _attributes;

    public SpanRows(int count, int seed = 42)
    {
        Count = count;
        Kind = new int[count];
        StartNs = new long[count];
        EndNs = new long[count];
        StatusCode = new int[count];
        _traceId = new Slice[count];
        _spanId = new Slice[count];
        _parentSpanId = new Slice[count];
        _name = new Slice[count];
        _attributes = new Slice[count];

        var random = new Random(seed);
        using var arena = new MemoryStream(count * 300);
        var text = new StringBuilder();
        long start = 1_763_700_000_000_000_000;
        for (var i = 0; i < count; i++)
        {
            var trace = (ulong)(i / 8) * 0x9E3779B97F4A7C15UL;
            _traceId[i] = Append(arena, $"{trace:x16}{~trace:x16}");
            _spanId[i] = Append(arena, $"{(ulong)i * 0xC2B2AE3D27D4EB4FUL:x16}");
            _parentSpanId[i] = i % 8 == 0 ? Slice.Null : Append(arena, $"{(ulong)(i - 1) * 0xC2B2AE3D27D4EB4FUL:x16}");
            _name[i] = Append(arena, Names[random.Next(Names.Length)]);
            Kind[i] = random.Next(1, 6);
            start += random.Next(1_000, 5_000_000);
            StartNs[i] = start;
            EndNs[i] = start + random.Next(10_000, 2_000_000_000);
            StatusCode[i] = random.Next(20) == 0 ? 2 : 0;

            text.Clear();
            text.Append("{\"gen_ai.request.model\":\"").Append(Models[random.Next(Models.Length)])
                .Append("\",\"gen_ai.usage.input_tokens\":").Append(random.Next(10, 4000))
                .Append(",\"gen_ai.usage.output_tokens\":").Append(random.Next(1, 800))
                .Append(",\"input.value\":\"");
            var words = random.Next(5, 50);
            for (var w = 0; w < words; w++)
            {
                text.Append(Words[random.Next(Words.Length)]).Append(' ');
            }

            text.Append("\"}");
            _attributes[i] = Append(arena, text.ToString());
        }

        _arena = arena.ToArray();
        RawBytes = _arena.LongLength + (count * (4L + 8 + 8 + 4));
    }

    public int Count { get; }

    /// <summary>Bytes of input per full load: every string byte plus the fixed-width fields.</summary>
    public long RawBytes { get; }

    public int[] Kind { get; }

    public long[] StartNs { get; }

    public long[] EndNs { get; }

    public int[] StatusCode { get; }

    public ReadOnlySpan<byte> TraceId(int row) => _traceId[row].Of(_arena);

    public ReadOnlySpan<byte> SpanId(int row) => _spanId[row].Of(_arena);

    public bool HasParent(int row) => !_parentSpanId[row].IsNull;

    public ReadOnlySpan<byte> ParentSpanId(int row) => _parentSpanId[row].Of(_arena);

    public ReadOnlySpan<byte> Name(int row) => _name[row].Of(_arena);

    public ReadOnlySpan<byte> Attributes(int row) => _attributes[row].Of(_arena);

    private static Slice Append(MemoryStream arena, string value)
    {
        var offset = (int)arena.Position;
        var bytes = Encoding.UTF8.GetBytes(value);
        arena.Write(bytes);
        return new Slice(offset, bytes.Length);
    }

    private readonly record struct Slice(int Offset, int Length)
    {
        public static readonly Slice Null = new(0, -1);

        public bool IsNull => Length < 0;

        public ReadOnlySpan<byte> Of(byte[] arena) => arena.AsSpan(Offset, Length);
    }
}
