using System.Buffers;
using System.Runtime.CompilerServices;
using TraceStore.Protocol.Model;
using F = TraceStore.Protocol.Otlp.OtlpFields;

namespace TraceStore.Protocol.Otlp.Protobuf;

/// <summary>Progress of an incremental decode.</summary>
public enum OtlpDecodeStatus
{
    /// <summary>Every complete element was decoded and consumed; feed more bytes (the rest stays unconsumed).</summary>
    NeedMoreData,

    /// <summary>The final block was decoded to its end: the batch is complete.</summary>
    Completed,
}

/// <summary>
/// Decodes OTLP/protobuf <c>ExportTraceServiceRequest</c> bytes into a <see cref="SpanBatch"/>, whole or as they
/// arrive (from a <c>PipeReader</c>), without first copying the body into one array.
/// <code>
/// ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
///   ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
///     ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
/// </code>
/// The two outer levels are walked as frames (only their tag and length are read); the elements inside them
/// (a Resource, a scope, a Span, a schema URL) are decoded whole and atomically once all their bytes are
/// buffered: from the buffer itself when it is one segment, from a pooled scratch copy when it straddles
/// segments. So a decode never holds more than one element beyond what the caller buffered, and an
/// incomplete element is never half in the batch. Unknown fields of any wire type are skipped at every level
/// (large length-delimited ones incrementally). Limits are checked before more bytes are buffered.
/// <para>Locals are not zeroed on entry (<c>SkipLocalsInit</c>), here and in the types the decode loops use
/// (<see cref="ProtobufElementDecoder"/>, <see cref="BatchWriter"/>, <see cref="RecordList{T}"/>, <see cref="ByteArena"/>,
/// <see cref="Utf8Validation"/>): their frames hold many struct temporaries, and C# zeroes every local on entry by
/// default, most of a kilobyte per span. Nothing in them reads a stackalloc before writing it.</para>
/// </summary>
[SkipLocalsInit]
public sealed class OtlpProtobufDecoder : IDisposable
{
    /// <summary>The tag of ScopeSpans.spans (field 2, length-delimited).</summary>
    private const byte SpansTag = (F.ScopeSpans.Spans << 3) | (int)WireType.LengthDelimited;

    private readonly OtlpDecoderOptions _options;
    private byte[] _scratch = [];
    private SpanBatch? _batch;
    private ProtobufElementDecoder? _elements;

    private long _consumed;
    private long _resourceEnd;
    private long _scopeEnd;
    private long _skipRemaining;
    private int _resourceCount;
    private int _scopeInResource;
    private int _spanInScope;

    public OtlpProtobufDecoder(OtlpDecoderOptions? options = null) => _options = (options ?? OtlpDecoderOptions.Default).Validate();

    /// <summary>Bytes consumed since <see cref="Begin"/>.</summary>
    public long Consumed => _consumed;

    /// <summary>Decodes one complete message (any number of segments) into <paramref name="batch"/> (reset first).</summary>
    public static void DecodeMessage(ReadOnlySequence<byte> message, SpanBatch batch, OtlpDecoderOptions? options = null)
    {
        using var decoder = new OtlpProtobufDecoder(options);
        decoder.Begin(batch);
        decoder.Decode(ref message, isFinalBlock: true);
    }

    /// <summary>Starts a new request: resets <paramref name="batch"/> and the decoder state.</summary>
    public void Begin(SpanBatch batch)
    {
        batch.Reset();
        _batch = batch;
        if (_elements is null || !ReferenceEquals(_elements.Batch, batch))
        {
            _elements = new ProtobufElementDecoder(batch, _options);
        }

        _elements.Reset();
        _consumed = 0;
        _resourceEnd = -1;
        _scopeEnd = -1;
        _skipRemaining = 0;
        _resourceCount = 0;
        _scopeInResource = 0;
        _spanInScope = 0;
    }

    /// <summary>
    /// Decodes every complete element in <paramref name="buffer"/> and advances it past them. With
    /// <paramref name="isFinalBlock"/> the buffer must hold the rest of the message; a message that ends early
    /// throws. Throws <see cref="OtlpDecodeException"/> for a request that must be refused.
    /// </summary>
    public OtlpDecodeStatus Decode(ref ReadOnlySequence<byte> buffer, bool isFinalBlock)
    {
        var batch = _batch ?? throw new InvalidOperationException("Call Begin before Decode.");
        if (_consumed + buffer.Length > _options.MaxMessageBytes)
        {
            OtlpDecodeException.Throw(
                OtlpRejectReason.MessageTooLarge,
                $"the message is larger than the {_options.MaxMessageBytes}-byte limit",
                Math.Min(_consumed + buffer.Length, _options.MaxMessageBytes));
        }

        while (true)
        {
            if (_skipRemaining > 0)
            {
                var skip = Math.Min(_skipRemaining, buffer.Length);
                Advance(ref buffer, skip);
                _skipRemaining -= skip;
                if (_skipRemaining > 0)
                {
                    return NeedMore(isFinalBlock, "an unknown field");
                }
            }

            CloseFinishedFrames(batch);
            if (_scopeEnd >= 0 && DecodeSpansInFirstSegment(ref buffer, batch))
            {
                continue;
            }

            if (buffer.IsEmpty)
            {
                if (!isFinalBlock)
                {
                    return OtlpDecodeStatus.NeedMoreData;
                }

                if (_scopeEnd >= 0 || _resourceEnd >= 0)
                {
                    OtlpDecodeException.Throw(OtlpRejectReason.Truncated, "the message ends inside a field", _consumed);
                }

                batch.MessageBytes = _consumed;
                return OtlpDecodeStatus.Completed;
            }

            if (!TryReadHeader(buffer, out var field, out var wireType, out var length, out var headerLength))
            {
                return NeedMore(isFinalBlock, "a field header");
            }

            var frameEnd = CurrentFrameEnd;
            var elementEnd = _consumed + headerLength + wireType switch
            {
                WireType.LengthDelimited => length,
                WireType.Fixed64 => 8,
                WireType.Fixed32 => 4,
                _ => 0,
            };
            if (elementEnd > frameEnd)
            {
                OtlpDecodeException.Throw(
                    OtlpRejectReason.LengthOutOfRange,
                    $"a field of {elementEnd - _consumed} bytes overruns its enclosing message by {elementEnd - frameEnd} bytes",
                    _consumed);
            }

            if (elementEnd > _options.MaxMessageBytes)
            {
                OtlpDecodeException.Throw(OtlpRejectReason.MessageTooLarge, $"the message is larger than the {_options.MaxMessageBytes}-byte limit", _consumed);
            }

            if (!DecodeField(ref buffer, batch, field, wireType, length, headerLength, isFinalBlock))
            {
                return NeedMore(isFinalBlock, "a field");
            }
        }
    }

    public void Dispose()
    {
        if (_scratch.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_scratch);
            _scratch = [];
        }
    }

    /// <summary>Absolute offset where the innermost open frame (ScopeSpans, then ResourceSpans) ends.</summary>
    private long CurrentFrameEnd => _scopeEnd >= 0 ? _scopeEnd : _resourceEnd >= 0 ? _resourceEnd : long.MaxValue;

    /// <summary>Handles the field whose header is at the start of <paramref name="buffer"/>; false when its bytes are not all buffered yet.</summary>
    private bool DecodeField(ref ReadOnlySequence<byte> buffer, SpanBatch batch, int field, WireType wireType, long length, int headerLength, bool isFinalBlock)
    {
        var level = _scopeEnd >= 0 ? 2 : _resourceEnd >= 0 ? 1 : 0;
        var isLength = wireType == WireType.LengthDelimited;
        switch (level)
        {
            case 0 when field == F.ExportTraceServiceRequest.ResourceSpans:
                RequireLength(isLength, wireType, "resource_spans");
                ref var resource = ref batch.Resources.Add();
                resource.Scopes = new RecordRange(batch.Scopes.Count, 0);
                _scopeInResource = 0;
                Advance(ref buffer, headerLength);
                _resourceEnd = _consumed + length;
                return true;

            case 1 when field == F.ResourceSpans.ScopeSpans:
                RequireLength(isLength, wireType, "scope_spans");
                ref var scope = ref batch.Scopes.Add();
                scope.ResourceIndex = batch.Resources.Count - 1;
                scope.Spans = new RecordRange(batch.Spans.Count, 0);
                _spanInScope = 0;
                Advance(ref buffer, headerLength);
                _scopeEnd = _consumed + length;
                return true;

            case 1 when field is F.ResourceSpans.Resource or F.ResourceSpans.SchemaUrl:
            case 2 when field is F.ScopeSpans.Scope or F.ScopeSpans.Spans or F.ScopeSpans.SchemaUrl:
                RequireLength(isLength, wireType, FieldName(level, field));
                if (buffer.Length < headerLength + length)
                {
                    return false;
                }

                DecodeElement(buffer.Slice(headerLength, length), _consumed + headerLength, batch, level, field);
                Advance(ref buffer, headerLength + length);
                return true;

            default:
                return SkipUnknown(ref buffer, wireType, length, headerLength, isFinalBlock);
        }
    }

    /// <summary>
    /// The bulk of a request, fast: consecutive <c>spans</c> fields of the open ScopeSpans that lie whole in the
    /// buffer's first segment (and inside the frame and the size limit) are decoded straight from that segment,
    /// without slicing the sequence per span. Stops at anything else (another field, a multi-byte tag, a span not
    /// all in the first segment, the end of the frame), which the general loop then handles with its exact errors.
    /// Returns whether it consumed anything.
    /// </summary>
    private bool DecodeSpansInFirstSegment(ref ReadOnlySequence<byte> buffer, SpanBatch batch)
    {
        var data = buffer.FirstSpan;
        var limit = (int)Math.Min(data.Length, Math.Min(_scopeEnd, _options.MaxMessageBytes) - _consumed);
        var position = 0;
        while (position < limit && data[position] == SpansTag
            && TryReadShortLength(data[..limit], position + 1, out var length, out var start) && length <= limit - start)
        {
            DecodeElement(data.Slice(start, length), _consumed + start, batch, 2, F.ScopeSpans.Spans);
            position = start + length;
        }

        if (position == 0)
        {
            return false;
        }

        Advance(ref buffer, position);
        return true;
    }

    /// <summary>A length varint of at most 4 bytes (under 256 MiB) at <paramref name="at"/>, whole in <paramref name="data"/>.</summary>
    private static bool TryReadShortLength(ReadOnlySpan<byte> data, int at, out int length, out int start)
    {
        length = 0;
        for (var i = 0; i < 4 && at + i < data.Length; i++)
        {
            var b = data[at + i];
            length |= (b & 0x7F) << (7 * i);
            if (b < 0x80)
            {
                start = at + i + 1;
                return true;
            }
        }

        start = 0;
        return false;
    }

    private void DecodeElement(ReadOnlySequence<byte> element, long offset, SpanBatch batch, int level, int field) =>
        DecodeElement(element.IsSingleSegment ? element.FirstSpan : CopyToScratch(element), offset, batch, level, field);

    private void DecodeElement(ReadOnlySpan<byte> data, long offset, SpanBatch batch, int level, int field)
    {
        var elements = _elements!;
        var resourceIndex = _resourceCount;
        try
        {
            switch (level, field)
            {
                case (1, F.ResourceSpans.Resource):
                    elements.DecodeResource(data, offset, ref batch.Resources[^1]);
                    break;
                case (1, F.ResourceSpans.SchemaUrl):
                    batch.Resources[^1].SchemaUrl = elements.DecodeOuterString(data, offset, "schema_url");
                    break;
                case (2, F.ScopeSpans.Scope):
                    elements.DecodeScope(data, offset, ref batch.Scopes[^1]);
                    break;
                case (2, F.ScopeSpans.SchemaUrl):
                    batch.Scopes[^1].SchemaUrl = elements.DecodeOuterString(data, offset, "schema_url");
                    break;
                default:
                    if (batch.Spans.Count + batch.RejectedSpans >= _options.MaxSpansPerRequest)
                    {
                        OtlpDecodeException.Throw(OtlpRejectReason.TooManySpans, $"the request has more than {_options.MaxSpansPerRequest} spans", offset);
                    }

                    elements.DecodeSpan(data, offset, batch.Scopes.Count - 1, new SpanPath(resourceIndex, _scopeInResource, _spanInScope));
                    _spanInScope++;
                    break;
            }
        }
        catch (OtlpDecodeException e)
        {
            throw e.WithinPath(elements.TakeErrorPath()).WithinPath(PathOf(level, field, resourceIndex));
        }
    }

    private string PathOf(int level, int field, int resourceIndex) => (level, field) switch
    {
        (1, F.ResourceSpans.Resource) => $"resource_spans[{resourceIndex}].resource",
        (1, _) => $"resource_spans[{resourceIndex}].schema_url",
        (2, F.ScopeSpans.Scope) => $"resource_spans[{resourceIndex}].scope_spans[{_scopeInResource}].scope",
        (2, F.ScopeSpans.SchemaUrl) => $"resource_spans[{resourceIndex}].scope_spans[{_scopeInResource}].schema_url",
        _ => $"resource_spans[{resourceIndex}].scope_spans[{_scopeInResource}].spans[{_spanInScope}]",
    };

    private static string FieldName(int level, int field) => (level, field) switch
    {
        (1, F.ResourceSpans.Resource) => "resource",
        (2, F.ScopeSpans.Scope) => "scope",
        (2, F.ScopeSpans.Spans) => "spans",
        _ => "schema_url",
    };

    private void CloseFinishedFrames(SpanBatch batch)
    {
        if (_scopeEnd >= 0 && _consumed == _scopeEnd)
        {
            ref var scope = ref batch.Scopes[^1];
            scope.Spans = new RecordRange(scope.Spans.Start, batch.Spans.Count - scope.Spans.Start);
            _scopeEnd = -1;
            _scopeInResource++;
        }

        if (_scopeEnd < 0 && _resourceEnd >= 0 && _consumed == _resourceEnd)
        {
            ref var resource = ref batch.Resources[^1];
            resource.Scopes = new RecordRange(resource.Scopes.Start, batch.Scopes.Count - resource.Scopes.Start);
            _resourceEnd = -1;
            _resourceCount++;
        }
    }

    private bool SkipUnknown(ref ReadOnlySequence<byte> buffer, WireType wireType, long length, int headerLength, bool isFinalBlock)
    {
        switch (wireType)
        {
            case WireType.LengthDelimited:
                Advance(ref buffer, headerLength);
                _skipRemaining = length;
                return true;
            case WireType.Varint:
                // The header reader already read the varint value as "length".
                Advance(ref buffer, headerLength);
                return true;
            case WireType.Fixed64 or WireType.Fixed32:
                var size = wireType == WireType.Fixed64 ? 8 : 4;
                if (buffer.Length < headerLength + size)
                {
                    return false;
                }

                Advance(ref buffer, headerLength + size);
                return true;
            default:
                // A group: no length prefix, so skip it over the buffered bytes (rare: groups are deprecated).
                var available = CopyToScratch(buffer);
                var reader = new ProtoReader(available, _consumed);
                reader.TryReadTag(out var field, out var type);
                try
                {
                    reader.Skip(field, type);
                }
                catch (OtlpDecodeException e) when (e.Reason == OtlpRejectReason.Truncated && !isFinalBlock)
                {
                    return false;
                }

                if (reader.Offset > CurrentFrameEnd)
                {
                    OtlpDecodeException.Throw(OtlpRejectReason.LengthOutOfRange, "a group overruns its enclosing message", _consumed);
                }

                Advance(ref buffer, reader.Offset - _consumed);
                return true;
        }
    }

    /// <summary>
    /// Reads the tag and, for length-delimited and varint fields, the length (or value) that follows, without
    /// consuming anything. False when the buffer ends inside them.
    /// </summary>
    private bool TryReadHeader(ReadOnlySequence<byte> buffer, out int field, out WireType wireType, out long length, out int headerLength)
    {
        field = 0;
        wireType = 0;
        length = 0;
        headerLength = 0;
        var reader = new SequenceReader<byte>(buffer);
        if (!TryReadVarint(ref reader, out var tag))
        {
            return false;
        }

        if (tag > uint.MaxValue || (tag >> 3) == 0 || (tag & 7) > 5)
        {
            OtlpDecodeException.Throw(OtlpRejectReason.InvalidTag, $"invalid tag {tag} (field {tag >> 3}, wire type {tag & 7})", _consumed);
        }

        field = (int)(tag >> 3);
        wireType = (WireType)(tag & 7);
        if (wireType is WireType.LengthDelimited or WireType.Varint)
        {
            if (!TryReadVarint(ref reader, out var value))
            {
                return false;
            }

            if (wireType == WireType.LengthDelimited && value > (ulong)_options.MaxMessageBytes)
            {
                OtlpDecodeException.Throw(OtlpRejectReason.MessageTooLarge, $"a field of {value} bytes is larger than the {_options.MaxMessageBytes}-byte limit", _consumed);
            }

            length = (long)value;
        }

        headerLength = (int)reader.Consumed;
        return true;
    }

    private bool TryReadVarint(ref SequenceReader<byte> reader, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 70; shift += 7)
        {
            if (!reader.TryRead(out var b))
            {
                return false;
            }

            if (shift == 63 && b > 1)
            {
                OtlpDecodeException.Throw(OtlpRejectReason.VarintOverflow, "varint overflows 64 bits", _consumed + reader.Consumed - 1);
            }

            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return true;
            }
        }

        OtlpDecodeException.Throw(OtlpRejectReason.VarintOverflow, "varint is longer than 10 bytes", _consumed);
        return false;
    }

    private void RequireLength(bool isLength, WireType wireType, string field)
    {
        if (!isLength)
        {
            OtlpDecodeException.Throw(OtlpRejectReason.WrongWireType, $"{field} has wire type {(int)wireType} ({wireType}); it must be 2 (LengthDelimited)", _consumed);
        }
    }

    private OtlpDecodeStatus NeedMore(bool isFinalBlock, string what)
    {
        if (isFinalBlock)
        {
            OtlpDecodeException.Throw(OtlpRejectReason.Truncated, $"the message ends inside {what}", _consumed);
        }

        return OtlpDecodeStatus.NeedMoreData;
    }

    private void Advance(ref ReadOnlySequence<byte> buffer, long count)
    {
        buffer = buffer.Slice(count);
        _consumed += count;
    }

    private ReadOnlySpan<byte> CopyToScratch(ReadOnlySequence<byte> bytes)
    {
        if (_scratch.Length < bytes.Length)
        {
            if (_scratch.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(_scratch);
            }

            _scratch = ArrayPool<byte>.Shared.Rent((int)bytes.Length);
        }

        bytes.CopyTo(_scratch);
        return _scratch.AsSpan(0, (int)bytes.Length);
    }
}
