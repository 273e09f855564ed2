using TraceStore.Protocol.Model;
using F = TraceStore.Protocol.Otlp.OtlpFields;

namespace TraceStore.Protocol.Otlp.Protobuf;

/// <summary>Attribute values: <c>KeyValue</c>, <c>AnyValue</c>, <c>ArrayValue</c>, <c>KeyValueList</c>, strings and ids,
/// and the moves from the scratch stacks to the batch.</summary>
internal sealed partial class ProtobufElementDecoder
{
    /// <summary>Decodes a <c>KeyValue</c> (length-delimited, next in <paramref name="outer"/>) onto the scratch stack.</summary>
    private void DecodeKeyValueInto(ref ProtoReader outer, string list, int index, int depth)
    {
        var reader = new ProtoReader(outer.ReadLengthDelimited(out var offset), offset);
        try
        {
            var record = default(KeyValueRecord);
            while (reader.TryReadTag(out var field, out var wireType))
            {
                switch (field)
                {
                    case F.KeyValue.Key:
                        record.Key = ReadString(ref reader, wireType, "key");
                        break;
                    case F.KeyValue.Value:
                        reader.Expect(wireType, WireType.LengthDelimited, "value");
                        record.Value = DecodeAnyValue(ref reader, depth);
                        break;
                    default:
                        reader.Skip(field, wireType);
                        break;
                }
            }

            _writer.PushKeyValue() = record;
        }
        catch (OtlpDecodeException e)
        {
            throw e.Within(list, index);
        }
    }

    private AnyValueRecord DecodeAnyValue(ref ProtoReader outer, int depth)
    {
        var data = outer.ReadLengthDelimited(out var offset);
        var reader = new ProtoReader(data, offset);
        var value = default(AnyValueRecord);
        try
        {
            // A oneof: the last case on the wire wins.
            while (reader.TryReadTag(out var field, out var wireType))
            {
                switch (field)
                {
                    case F.AnyValue.StringValue:
                        value = new(AnyValueKind.String, 0, ReadString(ref reader, wireType, "string_value"), default);
                        break;
                    case F.AnyValue.BoolValue:
                        reader.Expect(wireType, WireType.Varint, "bool_value");
                        value = new(AnyValueKind.Bool, reader.ReadVarint() != 0 ? 1 : 0, default, default);
                        break;
                    case F.AnyValue.IntValue:
                        reader.Expect(wireType, WireType.Varint, "int_value");
                        value = new(AnyValueKind.Int, (long)reader.ReadVarint(), default, default);
                        break;
                    case F.AnyValue.DoubleValue:
                        reader.Expect(wireType, WireType.Fixed64, "double_value");
                        value = new(AnyValueKind.Double, (long)reader.ReadFixed64(), default, default);
                        break;
                    case F.AnyValue.ArrayValue:
                        reader.Expect(wireType, WireType.LengthDelimited, "array_value");
                        value = new(AnyValueKind.Array, 0, default, DecodeValueList(ref reader, depth, keyValues: false));
                        break;
                    case F.AnyValue.KvlistValue:
                        reader.Expect(wireType, WireType.LengthDelimited, "kvlist_value");
                        value = new(AnyValueKind.KeyValueList, 0, default, DecodeValueList(ref reader, depth, keyValues: true));
                        break;
                    case F.AnyValue.BytesValue:
                        reader.Expect(wireType, WireType.LengthDelimited, "bytes_value");
                        value = new(AnyValueKind.Bytes, 0, batch.Arena.Append(reader.ReadLengthDelimited(out _)), default);
                        break;
                    default:
                        reader.Skip(field, wireType);
                        break;
                }
            }

            return value;
        }
        catch (OtlpDecodeException e)
        {
            throw e.Within("value");
        }
    }

    /// <summary><c>ArrayValue</c> or <c>KeyValueList</c>: field 1 repeated; returns the contiguous run of its elements.</summary>
    private RecordRange DecodeValueList(ref ProtoReader outer, int depth, bool keyValues)
    {
        var data = outer.ReadLengthDelimited(out var offset);
        var name = keyValues ? "kvlist_value" : "array_value";
        if (depth >= options.MaxAttributeDepth)
        {
            NestingTooDeep(offset, name);
            return default;
        }

        var reader = new ProtoReader(data, offset);
        var stackBase = keyValues ? _writer.KeyValueStackDepth : _writer.ArrayValueStackDepth;
        var index = 0;
        try
        {
            while (reader.TryReadTag(out var field, out var wireType))
            {
                if (field != F.ValueList.Values)
                {
                    reader.Skip(field, wireType);
                    continue;
                }

                reader.Expect(wireType, WireType.LengthDelimited, "values");
                if (keyValues)
                {
                    DecodeKeyValueInto(ref reader, "values", index++, depth + 1);
                }
                else
                {
                    try
                    {
                        var element = DecodeAnyValue(ref reader, depth + 1);
                        _writer.PushArrayValue() = element;
                        index++;
                    }
                    catch (OtlpDecodeException e)
                    {
                        throw e.Within("values", index);
                    }
                }
            }
        }
        catch (OtlpDecodeException e)
        {
            throw e.Within(name);
        }

        return keyValues ? _writer.PopKeyValues(stackBase) : _writer.PopArrayValues(stackBase);
    }

    private void NestingTooDeep(long offset, string field) =>
        _writer.Problem(OtlpRejectReason.NestingTooDeep, $"{field} nests deeper than {options.MaxAttributeDepth} levels", offset);

    private ArenaSlice ReadString(ref ProtoReader reader, WireType wireType, string field)
    {
        reader.Expect(wireType, WireType.LengthDelimited, field);
        var bytes = reader.ReadLengthDelimited(out var offset);
        return _writer.AppendUtf8(bytes, field, offset);
    }

    /// <summary>Reads an id field and returns its length as <see cref="SpanValidation.IdLength"/> defines it.</summary>
    private static int ReadId(ref ProtoReader reader, out ReadOnlySpan<byte> id)
    {
        id = reader.ReadLengthDelimited(out _);
        return SpanValidation.IdLength(id);
    }
}
