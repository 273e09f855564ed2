using System.Runtime.CompilerServices;
using TraceStore.Protocol.Model;
using F = TraceStore.Protocol.Otlp.OtlpFields;

namespace TraceStore.Protocol.Otlp.Protobuf;

/// <summary>Attribute values: <c>KeyValue</c>, <c>AnyValue</c>, <c>ArrayValue</c>, <c>KeyValueList</c>, strings and ids,
/// and the moves from the scratch stacks to the batch.</summary>
internal sealed partial class ProtobufElementDecoder
{
    /// <summary>Longest key-to-string run of a simple attribute that is checked and copied in one go (longer ones are
    /// checked separately: a long non-ASCII value would otherwise be scanned twice).</summary>
    private const int ShortRun = 128;

    /// <summary>
    /// Decodes the attribute whose length-delimited tag was just read and every one that follows it with the same
    /// one-byte <paramref name="tag"/> (a span's or event's attributes arrive together) onto the scratch stack, and
    /// returns the next attribute index. One frame for the run, and not the caller's: called per attribute, the fast
    /// path's prologue (six saved registers, 128 bytes of locals zeroed) cost about as much as decoding a short one;
    /// inlined into the span loop, its locals made that loop's frame zero a kilobyte per span.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int DecodeAttributes(ref ProtoReader outer, byte tag, int index)
    {
        // A local copy stays in registers; the caller's reader is written back once.
        var reader = outer;
        do
        {
            var data = reader.ReadLengthDelimited(out var offset);
            if (!TryDecodeSimpleKeyValue(data))
            {
                DecodeKeyValue(data, offset, PathField.Attributes, index, depth: 1);
            }

            index++;
        }
        while (reader.TryReadTag(tag));

        outer = reader;
        return index;
    }

    /// <summary>Decodes a <c>KeyValue</c> (length-delimited, next in <paramref name="outer"/>) onto the scratch stack.</summary>
    private void DecodeKeyValueInto(ref ProtoReader outer, PathField list, int index, int depth)
    {
        var data = outer.ReadLengthDelimited(out var offset);
        if (!TryDecodeSimpleKeyValue(data))
        {
            DecodeKeyValue(data, offset, list, index, depth);
        }
    }

    /// <summary>The general path for a <c>KeyValue</c>: any field order, nested values, exact errors.</summary>
    private void DecodeKeyValue(ReadOnlySpan<byte> data, long offset, PathField list, int index, int depth)
    {
        var reader = new ProtoReader(data, offset);
        Enter(list, index);
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
        Leave();
    }

    /// <summary>
    /// The common attribute shape, decoded without nested readers: <c>key</c> (field 1) then <c>value</c> (field 2)
    /// holding exactly one string, bool, int or double, both with valid UTF-8 and lengths below 16 KiB. Anything
    /// else (other field orders, nested values, bytes, unknown fields, bad UTF-8, malformed input) returns false
    /// and goes through the general path, which produces the same result or the exact error.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryDecodeSimpleKeyValue(ReadOnlySpan<byte> data)
    {
        if (data.Length < 2 || data[0] != 0x0A || !TryShortLength(data, 1, out var keyLength, out var keyStart)
            || keyStart + keyLength + 2 > data.Length || data[keyStart + keyLength] != 0x12
            || !TryShortLength(data, keyStart + keyLength + 1, out var valueLength, out var valueStart)
            || valueStart + valueLength != data.Length || valueLength == 0)
        {
            return false;
        }

        var key = data.Slice(keyStart, keyLength);
        var value = data.Slice(valueStart, valueLength);
        // The value as plain locals, not an AnyValueRecord built per case: the JIT then stores the record's fields
        // straight into the stack slot instead of copying a half-written temporary (a store-forwarding stall).
        ArenaSlice keySlice;
        AnyValueKind kind;
        long bits = 0;
        ArenaSlice text = default;
        if (value[0] == 0x0A)
        {
            if (!TryShortLength(value, 1, out var length, out var start) || start + length != value.Length)
            {
                return false;
            }

            // The string ends the element, so key, the 4 or so tag and length bytes, and the string are one run. When
            // that run is short and ASCII, one check covers both strings and one copy stores both; the few bytes
            // between them stay in the arena unreferenced.
            kind = AnyValueKind.String;
            var run = data[keyStart..];
            var textOffset = valueStart + start - keyStart;
            if (run.Length < ShortRun && Utf8Validation.TryCopyAscii(run, batch.Arena.GetSpan(run.Length)))
            {
                var stored = batch.Arena.Commit(run.Length);
                keySlice = Slice(stored.Offset, keyLength);
                text = Slice(stored.Offset + textOffset, length);
            }
            else
            {
                var textBytes = value.Slice(start, length);
                if (!Utf8Validation.IsValid(key) || !Utf8Validation.IsValid(textBytes))
                {
                    return false;
                }

                text = batch.Arena.Append(textBytes);
                keySlice = batch.Arena.Append(key);
            }
        }
        else
        {
            switch (value[0])
            {
                case 0x10 when value.Length == 2 && value[1] < 0x80:
                    kind = AnyValueKind.Bool;
                    bits = value[1] != 0 ? 1 : 0;
                    break;
                case 0x18 when TrySmallVarint(value, out var integer):
                    kind = AnyValueKind.Int;
                    bits = integer;
                    break;
                case 0x21 when value.Length == 9:
                    kind = AnyValueKind.Double;
                    bits = System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(value[1..]);
                    break;
                default:
                    return false;
            }

            if (!TryAppendShortAscii(key, out keySlice))
            {
                if (!Utf8Validation.IsValid(key))
                {
                    return false;
                }

                keySlice = batch.Arena.Append(key);
            }
        }

        _writer.PushKeyValue() = new KeyValueRecord(keySlice, new AnyValueRecord(kind, bits, text, default));
        return true;
    }

    /// <summary>Stores a short ASCII string (checked and copied in one pass); false, with nothing stored, otherwise.</summary>
    private bool TryAppendShortAscii(ReadOnlySpan<byte> bytes, out ArenaSlice slice)
    {
        var arena = batch.Arena;
        if (bytes.Length < ShortRun && Utf8Validation.TryCopyAscii(bytes, arena.GetSpan(bytes.Length)))
        {
            slice = arena.Commit(bytes.Length);
            return true;
        }

        slice = default;
        return false;
    }

    /// <summary>A slice of bytes already in the arena (the empty slice for length 0, as <see cref="ByteArena.Append"/> gives).</summary>
    private static ArenaSlice Slice(int offset, int length) => length == 0 ? default : new ArenaSlice(offset, length);

    /// <summary>A 1- or 2-byte length varint at <paramref name="at"/>; <paramref name="start"/> is where its payload begins.</summary>
    private static bool TryShortLength(ReadOnlySpan<byte> data, int at, out int length, out int start)
    {
        if (at < data.Length && data[at] < 0x80)
        {
            length = data[at];
            start = at + 1;
            return true;
        }

        if (at + 1 < data.Length && data[at + 1] < 0x80)
        {
            length = (data[at] & 0x7F) | (data[at + 1] << 7);
            start = at + 2;
            return true;
        }

        length = start = 0;
        return false;
    }

    /// <summary>Field 3 (int_value) whose varint fills the rest of <paramref name="value"/>: at most 9 bytes (below 2^63).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TrySmallVarint(ReadOnlySpan<byte> value, out long result)
    {
        ulong accumulated = 0;
        for (var i = 1; i < value.Length && i <= 9; i++)
        {
            accumulated |= (ulong)(value[i] & 0x7F) << (7 * (i - 1));
            if (value[i] < 0x80)
            {
                result = (long)accumulated;
                return i == value.Length - 1;
            }
        }

        result = 0;
        return false;
    }

    private AnyValueRecord DecodeAnyValue(ref ProtoReader outer, int depth)
    {
        var data = outer.ReadLengthDelimited(out var offset);
        var reader = new ProtoReader(data, offset);
        var value = default(AnyValueRecord);
        Enter(PathField.Value);
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

        Leave();
        return value;
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
        Enter(keyValues ? PathField.KvlistValue : PathField.ArrayValue);
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
                DecodeKeyValueInto(ref reader, PathField.Values, index++, depth + 1);
            }
            else
            {
                Enter(PathField.Values, index++);
                var element = DecodeAnyValue(ref reader, depth + 1);
                _writer.PushArrayValue() = element;
                Leave();
            }
        }

        Leave();
        return keyValues ? _writer.PopKeyValues(stackBase) : _writer.PopArrayValues(stackBase);
    }

    private void NestingTooDeep(long offset, string field) =>
        _writer.Problem(OtlpRejectReason.NestingTooDeep, $"{field} nests deeper than {options.MaxAttributeDepth} levels", offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ArenaSlice ReadString(ref ProtoReader reader, WireType wireType, string field)
    {
        reader.Expect(wireType, WireType.LengthDelimited, field);
        var bytes = reader.ReadLengthDelimited(out var offset);
        return AppendString(bytes, field, offset);
    }

    /// <summary>
    /// <see cref="BatchWriter.AppendUtf8"/>, not inlined: returned from a call, the slice arrives in one register.
    /// Inlined into a decode loop, it was built in memory with two 4-byte stores and read back as one 8-byte load,
    /// which stalls (no store forwarding): a quarter of the span loop's time went to storing the span's name. (The
    /// JSON decoder is faster with it inlined.)
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ArenaSlice AppendString(ReadOnlySpan<byte> bytes, string field, long offset) => _writer.AppendUtf8(bytes, field, offset);

    /// <summary>Reads an id field and returns its length as <see cref="SpanValidation.IdLength"/> defines it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ReadId(ref ProtoReader reader, out ReadOnlySpan<byte> id)
    {
        id = reader.ReadLengthDelimited(out _);
        return SpanValidation.IdLength(id);
    }
}
