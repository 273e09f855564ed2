using System.Buffers;
using System.Buffers.Text;
using System.Text.Json;
using TraceStore.Protocol.Model;

namespace TraceStore.Protocol.Otlp.Json;

/// <summary>Attribute values and scalar fields: strings, ids, numbers, enums, base64 bytes, property names.</summary>
public sealed partial class OtlpJsonDecoder
{
    /// <summary>Longest property name the decoder knows ("droppedattributescount" and friends) with room to spare.</summary>
    private const int MaxNameLength = 48;

    /// <summary>An array of <c>KeyValue</c> objects, pushed onto the writer's stack (the owner pops them).</summary>
    private void DecodeKeyValues(ref Utf8JsonReader reader, string field, int depth)
    {
        var index = 0;
        ForEachElement(ref reader, field, ref index, static (JsonBatchDecoderFrame frame, ref Utf8JsonReader r, int i) => frame.Decoder.DecodeKeyValue(ref r, frame.ResourceIndex), depth);
    }

    /// <param name="depth">Nesting depth of the value (carried in the frame's ResourceIndex slot).</param>
    private void DecodeKeyValue(ref Utf8JsonReader reader, int depth)
    {
        ExpectObject(ref reader, "attribute");
        var record = default(KeyValueRecord);
        Span<char> name = stackalloc char[MaxNameLength];
        while (NextProperty(ref reader, name, out var nameLength))
        {
            ReadOnlySpan<char> property = name[..nameLength];
            switch (property)
            {
                case "key":
                    record.Key = ReadString(ref reader, "key");
                    break;
                case "value":
                    try
                    {
                        record.Value = DecodeAnyValue(ref reader, depth);
                    }
                    catch (OtlpDecodeException e)
                    {
                        throw e.Within("value");
                    }

                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        _writer!.PushKeyValue() = record;
    }

    private AnyValueRecord DecodeAnyValue(ref Utf8JsonReader reader, int depth)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return default;
        }

        ExpectObject(ref reader, "value");
        var value = default(AnyValueRecord);
        Span<char> name = stackalloc char[MaxNameLength];
        while (NextProperty(ref reader, name, out var nameLength))
        {
            ReadOnlySpan<char> property = name[..nameLength];
            // A oneof: the last case in the object wins.
            switch (property)
            {
                case "stringvalue":
                    value = new(AnyValueKind.String, 0, ReadString(ref reader, "string_value"), default);
                    break;
                case "boolvalue":
                    value = new(AnyValueKind.Bool, ReadBool(ref reader, "bool_value") ? 1 : 0, default, default);
                    break;
                case "intvalue":
                    value = new(AnyValueKind.Int, ReadInt64(ref reader, "int_value"), default, default);
                    break;
                case "doublevalue":
                    value = new(AnyValueKind.Double, BitConverter.DoubleToInt64Bits(ReadDouble(ref reader, "double_value")), default, default);
                    break;
                case "bytesvalue":
                    value = new(AnyValueKind.Bytes, 0, ReadBase64(ref reader, "bytes_value"), default);
                    break;
                case "arrayvalue":
                    value = new(AnyValueKind.Array, 0, default, DecodeValueList(ref reader, depth, keyValues: false));
                    break;
                case "kvlistvalue":
                    value = new(AnyValueKind.KeyValueList, 0, default, DecodeValueList(ref reader, depth, keyValues: true));
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        return value;
    }

    /// <summary><c>{"values": [...]}</c> of an ArrayValue or KeyValueList; returns the contiguous run of its elements.</summary>
    private RecordRange DecodeValueList(ref Utf8JsonReader reader, int depth, bool keyValues)
    {
        var field = keyValues ? "kvlist_value" : "array_value";
        var writer = _writer!;
        if (reader.TokenType == JsonTokenType.Null)
        {
            return default;
        }

        if (depth >= _options.MaxAttributeDepth)
        {
            writer.Problem(OtlpRejectReason.NestingTooDeep, $"{field} nests deeper than {_options.MaxAttributeDepth} levels", reader.TokenStartIndex);
            reader.Skip();
            return default;
        }

        try
        {
            ExpectObject(ref reader, field);
            var stackBase = keyValues ? writer.KeyValueStackDepth : writer.ArrayValueStackDepth;
            Span<char> name = stackalloc char[MaxNameLength];
            while (NextProperty(ref reader, name, out var nameLength))
            {
                ReadOnlySpan<char> property = name[..nameLength];
                if (!property.SequenceEqual("values"))
                {
                    reader.Skip();
                    continue;
                }

                var index = 0;
                if (keyValues)
                {
                    ForEachElement(ref reader, "values", ref index, static (JsonBatchDecoderFrame frame, ref Utf8JsonReader r, int i) => frame.Decoder.DecodeKeyValue(ref r, frame.ResourceIndex), depth + 1);
                }
                else
                {
                    ForEachElement(ref reader, "values", ref index, static (JsonBatchDecoderFrame frame, ref Utf8JsonReader r, int i) =>
                        frame.Decoder._writer!.PushArrayValue() = frame.Decoder.DecodeAnyValue(ref r, frame.ResourceIndex), depth + 1);
                }
            }

            return keyValues ? writer.PopKeyValues(stackBase) : writer.PopArrayValues(stackBase);
        }
        catch (OtlpDecodeException e)
        {
            throw e.Within(field);
        }
    }

    /// <summary>A JSON string into the arena (unescaped, UTF-8 checked); null is the empty string.</summary>
    private ArenaSlice ReadString(ref Utf8JsonReader reader, string field)
    {
        if (reader.TokenType == JsonTokenType.Null || !Expect(ref reader, JsonTokenType.String, field))
        {
            return default;
        }

        var arena = _batch!.Arena;
        if (!reader.ValueIsEscaped && !reader.HasValueSequence)
        {
            return _writer!.AppendUtf8(reader.ValueSpan, field, reader.TokenStartIndex);
        }

        var max = reader.HasValueSequence ? checked((int)reader.ValueSequence.Length) : reader.ValueSpan.Length;
        var destination = arena.GetSpan(max);
        int written;
        if (!reader.HasValueSequence)
        {
            written = JsonStringUnescaper.Unescape(reader.ValueSpan, destination);
        }
        else
        {
            try
            {
                written = reader.CopyString(destination);
            }
            catch (InvalidOperationException)
            {
                written = -1;
            }
        }

        // -1: an escape that decodes to a lone surrogate, not representable as UTF-8.
        if (written < 0 || !Utf8Validation.IsValid(destination[..written]))
        {
            _writer!.Problem(OtlpRejectReason.InvalidUtf8, $"{field} is not valid UTF-8", reader.TokenStartIndex);
            return default;
        }

        return arena.Commit(written);
    }

    /// <summary>
    /// A hex id (any case) into <paramref name="destination"/>; returns its length as
    /// <see cref="SpanValidation.IdLength"/> defines it. Base64 ids (24 or 12 characters, as some older exporters
    /// send) are accepted too.
    /// </summary>
    private int ReadHexId(ref Utf8JsonReader reader, string field, scoped Span<byte> destination)
    {
        if (reader.TokenType == JsonTokenType.Null || !Expect(ref reader, JsonTokenType.String, field))
        {
            return 0;
        }

        var text = ValueBytes(ref reader);
        if (text.Length is 24 or 12 && text[^1] == (byte)'=')
        {
            return Base64.DecodeFromUtf8(text, destination, out _, out var decoded) == OperationStatus.Done
                ? SpanValidation.IdLength(destination[..decoded])
                : InvalidId(ref reader, field);
        }

        if (text.Length % 2 != 0 || text.Length > destination.Length * 2)
        {
            return text.Length % 2 == 0 ? text.Length / 2 : InvalidId(ref reader, field);
        }

        for (var i = 0; i < text.Length; i += 2)
        {
            var high = HexValue(text[i]);
            var low = HexValue(text[i + 1]);
            if ((high | low) < 0)
            {
                return InvalidId(ref reader, field);
            }

            destination[i / 2] = (byte)((high << 4) | low);
        }

        return SpanValidation.IdLength(destination[..(text.Length / 2)]);
    }

    private int InvalidId(ref Utf8JsonReader reader, string field)
    {
        _writer!.Problem(OtlpRejectReason.InvalidValue, $"{field} is not a hex string", reader.TokenStartIndex);
        return 0;
    }

    private static int HexValue(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        _ => -1,
    };

    private ulong ReadUInt64(ref Utf8JsonReader reader, string field)
    {
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetUInt64(out var number))
        {
            return number;
        }

        if (reader.TokenType == JsonTokenType.String && Utf8Parser.TryParse(ValueBytes(ref reader), out ulong parsed, out var used) && used == ValueBytes(ref reader).Length)
        {
            return parsed;
        }

        return InvalidNumber<ulong>(ref reader, field, "an unsigned 64-bit integer");
    }

    private long ReadInt64(ref Utf8JsonReader reader, string field)
    {
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var number))
        {
            return number;
        }

        if (reader.TokenType == JsonTokenType.String && Utf8Parser.TryParse(ValueBytes(ref reader), out long parsed, out var used) && used == ValueBytes(ref reader).Length)
        {
            return parsed;
        }

        return InvalidNumber<long>(ref reader, field, "a 64-bit integer");
    }

    private uint ReadUInt32(ref Utf8JsonReader reader, string field)
    {
        var value = ReadUInt64(ref reader, field);
        return value <= uint.MaxValue ? (uint)value : InvalidNumber<uint>(ref reader, field, "an unsigned 32-bit integer");
    }

    private double ReadDouble(ref Utf8JsonReader reader, string field)
    {
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out var number))
        {
            return number;
        }

        if (reader.TokenType == JsonTokenType.String)
        {
            var text = ValueBytes(ref reader);
            if (text.SequenceEqual("NaN"u8))
            {
                return double.NaN;
            }

            if (text.SequenceEqual("Infinity"u8))
            {
                return double.PositiveInfinity;
            }

            if (text.SequenceEqual("-Infinity"u8))
            {
                return double.NegativeInfinity;
            }

            if (Utf8Parser.TryParse(text, out double parsed, out var used) && used == text.Length)
            {
                return parsed;
            }
        }

        return InvalidNumber<double>(ref reader, field, "a number");
    }

    private bool ReadBool(ref Utf8JsonReader reader, string field) => reader.TokenType switch
    {
        JsonTokenType.True => true,
        JsonTokenType.False or JsonTokenType.Null => false,
        _ => InvalidNumber<bool>(ref reader, field, "true or false"),
    };

    /// <summary>An enum as its number or its proto name (e.g. SPAN_KIND_SERVER).</summary>
    private int ReadEnum(ref Utf8JsonReader reader, string field, string[] names)
    {
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var number))
        {
            return number;
        }

        if (reader.TokenType == JsonTokenType.String)
        {
            var text = ValueBytes(ref reader);
            for (var i = 0; i < names.Length; i++)
            {
                if (System.Text.Ascii.EqualsIgnoreCase(text, names[i]))
                {
                    return i;
                }
            }
        }

        return InvalidNumber<int>(ref reader, field, $"one of {string.Join(", ", names)} or its number");
    }

    private ArenaSlice ReadBase64(ref Utf8JsonReader reader, string field)
    {
        if (reader.TokenType == JsonTokenType.Null || !Expect(ref reader, JsonTokenType.String, field))
        {
            return default;
        }

        var text = ValueBytes(ref reader);
        var arena = _batch!.Arena;
        var destination = arena.GetSpan(Base64.GetMaxDecodedFromUtf8Length(text.Length));
        if (Base64.DecodeFromUtf8(text, destination, out _, out var written) == OperationStatus.Done
            || Base64Url.DecodeFromUtf8(text, destination, out _, out written) == OperationStatus.Done)
        {
            return arena.Commit(written);
        }

        _writer!.Problem(OtlpRejectReason.InvalidValue, $"{field} is not base64", reader.TokenStartIndex);
        return default;
    }

    private T InvalidNumber<T>(ref Utf8JsonReader reader, string field, string expected)
        where T : struct
    {
        _writer!.Problem(OtlpRejectReason.InvalidValue, $"{field} must be {expected}, not {Describe(reader.TokenType)}", reader.TokenStartIndex);
        if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
        {
            reader.Skip();
        }

        return default;
    }

    /// <summary>Checks a scalar's token type; a mismatch is a problem (and its subtree is skipped).</summary>
    private bool Expect(ref Utf8JsonReader reader, JsonTokenType expected, string field)
    {
        if (reader.TokenType == expected)
        {
            return true;
        }

        _writer!.Problem(OtlpRejectReason.InvalidValue, $"{field} must be {Describe(expected)}, not {Describe(reader.TokenType)}", reader.TokenStartIndex);
        if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
        {
            reader.Skip();
        }

        return false;
    }

    /// <summary>The raw bytes of a string or number token (unescaped into scratch when needed).</summary>
    private ReadOnlySpan<byte> ValueBytes(ref Utf8JsonReader reader)
    {
        if (!reader.HasValueSequence && !reader.ValueIsEscaped)
        {
            return reader.ValueSpan;
        }

        var length = reader.HasValueSequence ? checked((int)reader.ValueSequence.Length) : reader.ValueSpan.Length;
        if (_scratch.Length < length)
        {
            _scratch = new byte[Math.Max(length, _scratch.Length * 2)];
        }

        if (reader.TokenType != JsonTokenType.String)
        {
            reader.ValueSequence.CopyTo(_scratch);
            return _scratch.AsSpan(0, length);
        }

        try
        {
            return _scratch.AsSpan(0, reader.CopyString(_scratch));
        }
        catch (InvalidOperationException)
        {
            return [];
        }
    }

    private static void ExpectObject(ref Utf8JsonReader reader, string what)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            OtlpDecodeException.Throw(OtlpRejectReason.InvalidJson, $"{what} must be an object, not {Describe(reader.TokenType)}", reader.TokenStartIndex);
        }
    }

    /// <summary>
    /// Moves to the next property of the current object and gives the length of its name, written into <paramref name="buffer"/> folded to lower case without
    /// underscores, so lowerCamelCase and snake_case spellings compare equal. Leaves the reader on the value.
    /// </summary>
    private static bool NextProperty(ref Utf8JsonReader reader, scoped Span<char> buffer, out int nameLength)
    {
        if (!reader.Read() || reader.TokenType == JsonTokenType.EndObject)
        {
            nameLength = 0;
            return false;
        }

        var length = reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length;
        var folded = 0;
        Span<byte> copy = stackalloc byte[MaxNameLength];
        if (length <= MaxNameLength)
        {
            // A plain name is read where it lies; an escaped or split one is copied (CopyString checks its UTF-8).
            scoped ReadOnlySpan<byte> raw;
            if (!reader.ValueIsEscaped && !reader.HasValueSequence)
            {
                raw = reader.ValueSpan;
                if (!Utf8Validation.IsValid(raw))
                {
                    OtlpDecodeException.Throw(OtlpRejectReason.InvalidJson, "a property name is not valid UTF-8", reader.TokenStartIndex);
                }
            }
            else if (TryCopyName(ref reader, copy, out var count))
            {
                raw = copy[..count];
            }
            else
            {
                OtlpDecodeException.Throw(OtlpRejectReason.InvalidJson, "a property name is not valid UTF-8", reader.TokenStartIndex);
                raw = default;
            }

            for (var i = 0; i < raw.Length; i++)
            {
                var c = raw[i];
                if (c != (byte)'_')
                {
                    buffer[folded++] = (char)(c is >= (byte)'A' and <= (byte)'Z' ? c | 0x20 : c);
                }
            }
        }

        nameLength = folded;
        reader.Read();
        return true;
    }

    /// <summary>Unescapes a property name; false for a name that is not valid UTF-8.</summary>
    private static bool TryCopyName(ref Utf8JsonReader reader, scoped Span<byte> destination, out int count)
    {
        try
        {
            count = reader.CopyString(destination);
            return true;
        }
        catch (InvalidOperationException)
        {
            count = 0;
            return false;
        }
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => token.ToString(),
    };
}
