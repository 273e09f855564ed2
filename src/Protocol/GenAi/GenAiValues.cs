using System.Buffers.Text;
using System.Text.Json;
using TraceStore.Protocol.Model;

namespace TraceStore.Protocol.GenAi;

/// <summary>Reading numbers and strings out of attribute values the way MLflow's translators do.</summary>
internal static class GenAiValues
{
    /// <summary>An integer from an int, a whole double, or a string holding digits (MLflow JSON-encodes numbers as text).</summary>
    public static bool TryInteger(SpanBatch batch, in AnyValueRecord value, out long result)
    {
        switch (value.Kind)
        {
            case AnyValueKind.Int:
                result = value.IntValue;
                return true;
            case AnyValueKind.Double when double.IsFinite(value.DoubleValue) && Math.Floor(value.DoubleValue) == value.DoubleValue:
                result = (long)value.DoubleValue;
                return true;
            case AnyValueKind.String:
                var text = batch.Bytes(value.Bytes).Trim((byte)' ');
                if (Utf8Parser.TryParse(text, out result, out var used) && used == text.Length)
                {
                    return true;
                }

                if (Utf8Parser.TryParse(text, out double number, out used) && used == text.Length && Math.Floor(number) == number)
                {
                    result = (long)number;
                    return true;
                }

                break;
        }

        result = 0;
        return false;
    }

    /// <summary>
    /// True when a string attribute holds a JSON string literal (how MLflow's Python client writes every value,
    /// e.g. <c>"\"LLM\""</c>); <paramref name="text"/> is then the unescaped string. Plain strings (the JS
    /// convention writes <c>LLM</c>) return false.
    /// </summary>
    public static bool UnwrapJsonString(SpanBatch batch, in AnyValueRecord value, out string text)
    {
        text = "";
        var bytes = batch.Bytes(value.Bytes);
        if (value.Kind != AnyValueKind.String || bytes.Length < 2 || bytes[0] != (byte)'"' || bytes[^1] != (byte)'"')
        {
            return false;
        }

        try
        {
            var reader = new Utf8JsonReader(bytes);
            if (reader.Read() && reader.TokenType == JsonTokenType.String)
            {
                text = reader.GetString() ?? "";
                return !reader.Read();
            }
        }
        catch (JsonException)
        {
            // Not JSON after all: treat it as a plain string.
        }

        return false;
    }

    /// <summary>A short enumeration-like value (span kind, span type): unwrapped when JSON-encoded. Allocates only for
    /// JSON-encoded values; callers compare the raw bytes first.</summary>
    public static ReadOnlySpan<byte> Token(SpanBatch batch, in AnyValueRecord value, Span<byte> scratch)
    {
        var bytes = batch.Bytes(value.Bytes);
        if (value.Kind != AnyValueKind.String)
        {
            return default;
        }

        if (bytes.Length >= 2 && bytes[0] == (byte)'"' && bytes[^1] == (byte)'"' && bytes.Length - 2 <= scratch.Length && !bytes[1..^1].Contains((byte)'\\'))
        {
            bytes[1..^1].CopyTo(scratch);
            return scratch[..(bytes.Length - 2)];
        }

        return bytes;
    }

    /// <summary>Parses MLflow's <c>mlflow.chat.tokenUsage</c> JSON object ({"input_tokens": n, ...}).</summary>
    public static TokenUsage? ParseMlflowUsage(SpanBatch batch, in AnyValueRecord value)
    {
        if (value.Kind == AnyValueKind.KeyValueList)
        {
            return UsageFromKeyValues(batch, value.Children);
        }

        if (value.Kind != AnyValueKind.String)
        {
            return null;
        }

        try
        {
            var reader = new Utf8JsonReader(batch.Bytes(value.Bytes));
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            var counts = default(UsageCounts);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.ValueSpan;
                reader.Read();
                if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var n))
                {
                    counts.Set(name, n);
                }
                else
                {
                    reader.Skip();
                }
            }

            return counts.ToUsage();
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Usage from counts a convention provided; null when it provided neither input nor output nor total.
    /// Total is input + output when not given.</summary>
    public static TokenUsage? Usage(long? input, long? output, long? total, long? cacheRead, long? cacheCreation)
    {
        if (input is null && output is null && total is null)
        {
            return null;
        }

        return new TokenUsage(input ?? 0, output ?? 0, total ?? ((input ?? 0) + (output ?? 0)), cacheRead, cacheCreation);
    }

    private static TokenUsage? UsageFromKeyValues(SpanBatch batch, RecordRange range)
    {
        var counts = default(UsageCounts);
        foreach (var kv in batch.KeyValues.Slice(range))
        {
            if (TryInteger(batch, kv.Value, out var n))
            {
                counts.Set(batch.Bytes(kv.Key), n);
            }
        }

        return counts.ToUsage();
    }

    /// <summary>The counts of MLflow's token usage object, by its key names.</summary>
    private struct UsageCounts
    {
        private long? _input, _output, _total, _cacheRead, _cacheCreation;

        public void Set(ReadOnlySpan<byte> name, long value)
        {
            if (name.SequenceEqual("input_tokens"u8))
            {
                _input = value;
            }
            else if (name.SequenceEqual("output_tokens"u8))
            {
                _output = value;
            }
            else if (name.SequenceEqual("total_tokens"u8))
            {
                _total = value;
            }
            else if (name.SequenceEqual("cache_read_input_tokens"u8))
            {
                _cacheRead = value;
            }
            else if (name.SequenceEqual("cache_creation_input_tokens"u8))
            {
                _cacheCreation = value;
            }
        }

        public readonly TokenUsage? ToUsage() => Usage(_input, _output, _total, _cacheRead, _cacheCreation);
    }
}
