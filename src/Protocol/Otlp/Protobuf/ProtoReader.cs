using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace TraceStore.Protocol.Otlp.Protobuf;

/// <summary>Protobuf wire types (encoding spec, "Message Structure"). 6 and 7 are invalid.</summary>
internal enum WireType
{
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    StartGroup = 3,
    EndGroup = 4,
    Fixed32 = 5,
}

/// <summary>
/// Reads protobuf wire format from one contiguous span:
/// <code>
/// field := tag value          tag := varint (field_number &lt;&lt; 3 | wire_type)
/// value := varint | 8 bytes LE | len:varint bytes[len] | 4 bytes LE | group (deprecated)
/// </code>
/// Every read is bounds-checked against the span; a problem throws <see cref="OtlpDecodeException"/> with the
/// absolute byte offset (<c>baseOffset</c> + position).
/// <para>The hot members are inlined, and nothing they call takes the reader's address (slow paths run on a copy,
/// throw helpers are static): a reader whose address is taken lives in memory, so every read of a decode loop would
/// load and store its position (this kept the span loop's reader out of registers).</para>
/// <para>Locals are not zeroed on entry (<c>SkipLocalsInit</c>: see <see cref="OtlpProtobufDecoder"/>); this matters most
/// here, since an inlined member's locals are zeroed at every place it is inlined, once per field read.</para>
/// </summary>
[SkipLocalsInit]
internal ref struct ProtoReader
{
    private const int MaxGroupDepth = 32;

    private readonly ReadOnlySpan<byte> _data;
    private readonly long _baseOffset;
    private int _position;

    public ProtoReader(ReadOnlySpan<byte> data, long baseOffset)
    {
        _data = data;
        _baseOffset = baseOffset;
        _position = 0;
    }

    /// <summary>Absolute offset of the next byte to read.</summary>
    public readonly long Offset => _baseOffset + _position;

    /// <summary>Reads the next tag, or returns false at the end of the span.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryReadTag(out int field, out WireType wireType)
    {
        if (_position >= _data.Length)
        {
            field = 0;
            wireType = 0;
            return false;
        }

        ulong tag = _data[_position];
        if (tag < 0x80 && tag >= 8 && (tag & 7) <= 5)
        {
            // A one-byte tag with a field number and a wire type that exists: nearly every tag of an OTLP message.
            _position++;
            field = (int)(tag >> 3);
            wireType = (WireType)(tag & 7);
            return true;
        }

        // Anything else (multi-byte or invalid) out of line, on a copy: its error messages would otherwise put string
        // builders in every decode loop's frame.
        var copy = this;
        tag = copy.ReadTagSlow();
        this = copy;
        field = (int)(tag >> 3);
        wireType = (WireType)(tag & 7);
        return true;
    }

    /// <summary>A tag that is not a valid one-byte tag: read and checked, or thrown.</summary>
    private ulong ReadTagSlow()
    {
        var tagOffset = Offset;
        ulong tag = _data[_position];
        if (tag < 0x80)
        {
            _position++;
        }
        else
        {
            tag = ReadVarint();
        }

        if (tag > uint.MaxValue)
        {
            OtlpDecodeException.Throw(OtlpRejectReason.InvalidTag, $"tag {tag} is larger than 32 bits", tagOffset);
        }

        var field = (int)(tag >> 3);
        var wireType = (WireType)(tag & 7);
        if (field == 0)
        {
            OtlpDecodeException.Throw(OtlpRejectReason.InvalidTag, "field number 0 is not allowed", tagOffset);
        }

        if ((int)wireType > 5)
        {
            OtlpDecodeException.Throw(OtlpRejectReason.InvalidTag, $"field {field} has wire type {(int)wireType}, which does not exist", tagOffset);
        }

        return tag;
    }

    /// <summary>Consumes the next byte when it is <paramref name="tag"/>, a valid one-byte tag the caller expects next.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryReadTag(byte tag)
    {
        if ((uint)_position < (uint)_data.Length && _data[_position] == tag)
        {
            _position++;
            return true;
        }

        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong ReadVarint()
    {
        var data = _data;
        var position = _position;
        if ((uint)position < (uint)data.Length && data[position] < 0x80)
        {
            _position = position + 1;
            return data[position];
        }

        var copy = this;
        var value = copy.ReadVarintSlow();
        this = copy;
        return value;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint ReadFixed32()
    {
        if (_data.Length - _position < 4)
        {
            ThrowFixedTruncated("fixed32", 4, _data.Length - _position, Offset);
        }

        var value = BinaryPrimitives.ReadUInt32LittleEndian(_data[_position..]);
        _position += 4;
        return value;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong ReadFixed64()
    {
        if (_data.Length - _position < 8)
        {
            ThrowFixedTruncated("fixed64", 8, _data.Length - _position, Offset);
        }

        var value = BinaryPrimitives.ReadUInt64LittleEndian(_data[_position..]);
        _position += 8;
        return value;
    }

    /// <summary>Reads a length-delimited value; <paramref name="payloadOffset"/> is the absolute offset of its first byte.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<byte> ReadLengthDelimited(out long payloadOffset)
    {
        var lengthOffset = Offset;
        var length = ReadVarint();
        var remaining = _data.Length - _position;
        if (length > (ulong)remaining)
        {
            ThrowLengthOutOfRange(length, remaining, lengthOffset);
        }

        payloadOffset = Offset;
        var value = _data.Slice(_position, (int)length);
        _position += (int)length;
        return value;
    }

    /// <summary>Checks a known field's wire type.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void Expect(WireType actual, WireType expected, string field)
    {
        if (actual != expected)
        {
            ThrowWrongWireType(actual, expected, field, Offset);
        }
    }

    /// <summary>Skips the value of an unknown field of any wire type (groups included, nesting bounded).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Skip(int field, WireType wireType)
    {
        var copy = this;
        copy.SkipValue(field, wireType);
        this = copy;
    }

    private void SkipValue(int field, WireType wireType)
    {
        switch (wireType)
        {
            case WireType.Varint:
                ReadVarint();
                break;
            case WireType.Fixed64:
                ReadFixed64();
                break;
            case WireType.LengthDelimited:
                ReadLengthDelimited(out _);
                break;
            case WireType.Fixed32:
                ReadFixed32();
                break;
            case WireType.StartGroup:
                SkipGroup(field, 1);
                break;
            default:
                OtlpDecodeException.Throw(OtlpRejectReason.InvalidTag, $"group end for field {field} without a group start", Offset);
                break;
        }
    }

    private void SkipGroup(int field, int depth)
    {
        if (depth > MaxGroupDepth)
        {
            OtlpDecodeException.Throw(OtlpRejectReason.NestingTooDeep, $"groups nest deeper than {MaxGroupDepth}", Offset);
        }

        while (TryReadTag(out var inner, out var wireType))
        {
            if (wireType == WireType.EndGroup)
            {
                if (inner != field)
                {
                    OtlpDecodeException.Throw(OtlpRejectReason.InvalidTag, $"group {field} closed by an end tag for field {inner}", Offset);
                }

                return;
            }

            if (wireType == WireType.StartGroup)
            {
                SkipGroup(inner, depth + 1);
            }
            else
            {
                SkipValue(inner, wireType);
            }
        }

        OtlpDecodeException.Throw(OtlpRejectReason.Truncated, $"group {field} has no end tag", Offset);
    }

    private ulong ReadVarintSlow()
    {
        var start = Offset;
        ulong result = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (_position >= _data.Length)
            {
                OtlpDecodeException.Throw(OtlpRejectReason.Truncated, "the message ends inside a varint", start);
            }

            ulong b = _data[_position++];
            if (shift == 63 && b > 1)
            {
                OtlpDecodeException.Throw(OtlpRejectReason.VarintOverflow, "varint overflows 64 bits", start);
            }

            result |= (b & 0x7F) << shift;
            if (b < 0x80)
            {
                return result;
            }
        }

        OtlpDecodeException.Throw(OtlpRejectReason.VarintOverflow, "varint is longer than 10 bytes", start);
        return 0;
    }

    private static void ThrowLengthOutOfRange(ulong length, int remaining, long offset) =>
        OtlpDecodeException.Throw(OtlpRejectReason.LengthOutOfRange, $"length {length} exceeds the {remaining} bytes left in the enclosing message", offset);

    private static void ThrowWrongWireType(WireType actual, WireType expected, string field, long offset) =>
        OtlpDecodeException.Throw(OtlpRejectReason.WrongWireType, $"{field} has wire type {(int)actual} ({actual}); it must be {(int)expected} ({expected})", offset);

    private static void ThrowFixedTruncated(string type, int size, int remaining, long offset) =>
        OtlpDecodeException.Throw(OtlpRejectReason.Truncated, $"a {type} needs {size} bytes; {remaining} remain", offset);
}
