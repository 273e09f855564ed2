using System.Buffers;
using System.Text.Json;
using TraceStore.Protocol.Model;

namespace TraceStore.Protocol.Otlp.Json;

/// <summary>
/// Decodes OTLP/JSON (<c>application/json</c> request bodies) into a <see cref="SpanBatch"/> with the same model,
/// validation and errors as the protobuf decoder. Streaming: one forward pass of <see cref="Utf8JsonReader"/> over
/// the (possibly multi-segment) body, strings unescaped straight into the batch arena. OTLP/JSON rules
/// (opentelemetry-proto specification, "JSON Protobuf Encoding"): ids are hex (any case); 64-bit integers are
/// decimal strings or numbers; enums are integers or names; keys are lowerCamelCase, snake_case accepted;
/// unknown fields and nulls are ignored. The whole body must be buffered; field paths in errors use the
/// proto names (<c>resource_spans[0].scope_spans[0].spans[2].trace_id</c>).
/// </summary>
public sealed partial class OtlpJsonDecoder
{
    private readonly OtlpDecoderOptions _options;
    private readonly JsonReaderOptions _readerOptions;
    private SpanBatch? _batch;
    private BatchWriter? _writer;
    private byte[] _scratch = new byte[256];

    public OtlpJsonDecoder(OtlpDecoderOptions? options = null)
    {
        _options = (options ?? OtlpDecoderOptions.Default).Validate();

        // Root..attribute value is 10 levels; each AnyValue nesting adds 4 (value, arrayValue, values, element).
        _readerOptions = new JsonReaderOptions { MaxDepth = 16 + (4 * _options.MaxAttributeDepth), CommentHandling = JsonCommentHandling.Disallow };
    }

    /// <summary>Decodes one complete JSON body into <paramref name="batch"/> (reset first).</summary>
    public static void DecodeMessage(ReadOnlySequence<byte> json, SpanBatch batch, OtlpDecoderOptions? options = null) =>
        new OtlpJsonDecoder(options).Decode(json, batch);

    /// <summary>Decodes one complete JSON body into <paramref name="batch"/> (reset first). Throws
    /// <see cref="OtlpDecodeException"/> for a request that must be refused.</summary>
    public void Decode(ReadOnlySequence<byte> json, SpanBatch batch)
    {
        batch.Reset();
        if (json.Length > _options.MaxMessageBytes)
        {
            OtlpDecodeException.Throw(OtlpRejectReason.MessageTooLarge, $"the message is larger than the {_options.MaxMessageBytes}-byte limit", _options.MaxMessageBytes);
        }

        if (!ReferenceEquals(_batch, batch))
        {
            _batch = batch;
            _writer = new BatchWriter(batch);
        }

        _writer!.Reset();
        var reader = new Utf8JsonReader(json, isFinalBlock: true, new JsonReaderState(_readerOptions));
        try
        {
            if (!reader.Read())
            {
                OtlpDecodeException.Throw(OtlpRejectReason.InvalidJson, "the body is empty; an OTLP/JSON request is an object", 0);
            }

            DecodeRequest(ref reader);
            if (reader.Read())
            {
                OtlpDecodeException.Throw(OtlpRejectReason.InvalidJson, "unexpected content after the request object", reader.TokenStartIndex);
            }
        }
        catch (JsonException e)
        {
            throw new OtlpDecodeException(OtlpRejectReason.InvalidJson, $"invalid JSON: {e.Message}", reader.BytesConsumed, e);
        }

        batch.MessageBytes = json.Length;
    }

    private void DecodeRequest(ref Utf8JsonReader reader)
    {
        ExpectObject(ref reader, "the request");
        Span<char> name = stackalloc char[MaxNameLength];
        while (NextProperty(ref reader, name, out var nameLength))
        {
            ReadOnlySpan<char> property = name[..nameLength];
            if (property.SequenceEqual("resourcespans"))
            {
                var index = 0;
                ForEachElement(ref reader, "resource_spans", ref index, static (JsonBatchDecoderFrame frame, ref Utf8JsonReader r, int i) => frame.Decoder.DecodeResourceSpans(ref r, i));
            }
            else
            {
                reader.Skip();
            }
        }
    }

    private void DecodeResourceSpans(ref Utf8JsonReader reader, int resourceIndex)
    {
        var batch = _batch!;
        ref var resource = ref batch.Resources.Add();
        resource.Scopes = new RecordRange(batch.Scopes.Count, 0);
        var scopesStart = batch.Scopes.Count;
        ExpectObject(ref reader, "resource_spans");
        Span<char> name = stackalloc char[MaxNameLength];
        while (NextProperty(ref reader, name, out var nameLength))
        {
            ReadOnlySpan<char> property = name[..nameLength];
            switch (property)
            {
                case "resource":
                    DecodeResource(ref reader, batch.Resources.Count - 1);
                    break;
                case "scopespans":
                    var index = 0;
                    ForEachElement(ref reader, "scope_spans", ref index, static (JsonBatchDecoderFrame frame, ref Utf8JsonReader r, int i) => frame.Decoder.DecodeScopeSpans(ref r, frame.ResourceIndex, i), resourceIndex);
                    break;
                case "schemaurl":
                    batch.Resources[^1].SchemaUrl = ReadString(ref reader, "schema_url");
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        batch.Resources[^1].Scopes = new RecordRange(scopesStart, batch.Scopes.Count - scopesStart);
    }

    private void DecodeResource(ref Utf8JsonReader reader, int resourceIndex)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return;
        }

        try
        {
            ExpectObject(ref reader, "resource");
            var attributesBase = _writer!.KeyValueStackDepth;
            Span<char> name = stackalloc char[MaxNameLength];
            while (NextProperty(ref reader, name, out var nameLength))
            {
                ReadOnlySpan<char> property = name[..nameLength];
                switch (property)
                {
                    case "attributes":
                        DecodeKeyValues(ref reader, "attributes", depth: 1);
                        break;
                    case "droppedattributescount":
                        _batch!.Resources[resourceIndex].DroppedAttributesCount = ReadUInt32(ref reader, "dropped_attributes_count");
                        break;
                    default:
                        reader.Skip();
                        break;
                }
            }

            _batch!.Resources[resourceIndex].Attributes = _writer.PopKeyValues(attributesBase);
        }
        catch (OtlpDecodeException e)
        {
            throw e.Within("resource");
        }
    }

    private void DecodeScopeSpans(ref Utf8JsonReader reader, int resourceIndex, int scopeIndex)
    {
        var batch = _batch!;
        ref var scope = ref batch.Scopes.Add();
        scope.ResourceIndex = batch.Resources.Count - 1;
        var spansStart = batch.Spans.Count;
        ExpectObject(ref reader, "scope_spans");
        Span<char> name = stackalloc char[MaxNameLength];
        while (NextProperty(ref reader, name, out var nameLength))
        {
            ReadOnlySpan<char> property = name[..nameLength];
            switch (property)
            {
                case "scope":
                    DecodeScope(ref reader);
                    break;
                case "spans":
                    var index = 0;
                    ForEachElement(ref reader, "spans", ref index, static (JsonBatchDecoderFrame frame, ref Utf8JsonReader r, int i) => frame.Decoder.DecodeSpan(ref r, frame.ResourceIndex, frame.ScopeIndex, i), resourceIndex, scopeIndex);
                    break;
                case "schemaurl":
                    batch.Scopes[^1].SchemaUrl = ReadString(ref reader, "schema_url");
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        batch.Scopes[^1].Spans = new RecordRange(spansStart, batch.Spans.Count - spansStart);
    }

    private void DecodeScope(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return;
        }

        try
        {
            ExpectObject(ref reader, "scope");
            var scopes = _batch!.Scopes;
            var attributesBase = _writer!.KeyValueStackDepth;
            Span<char> name = stackalloc char[MaxNameLength];
            while (NextProperty(ref reader, name, out var nameLength))
            {
                ReadOnlySpan<char> property = name[..nameLength];
                switch (property)
                {
                    case "name":
                        scopes[^1].Name = ReadString(ref reader, "name");
                        break;
                    case "version":
                        scopes[^1].Version = ReadString(ref reader, "version");
                        break;
                    case "attributes":
                        DecodeKeyValues(ref reader, "attributes", depth: 1);
                        break;
                    case "droppedattributescount":
                        scopes[^1].DroppedAttributesCount = ReadUInt32(ref reader, "dropped_attributes_count");
                        break;
                    default:
                        reader.Skip();
                        break;
                }
            }

            scopes[^1].Attributes = _writer.PopKeyValues(attributesBase);
        }
        catch (OtlpDecodeException e)
        {
            throw e.Within("scope");
        }
    }

    /// <summary>Calls <paramref name="decode"/> for each element of the array at the reader (null = no elements),
    /// adding the element to the path of any error.</summary>
    private void ForEachElement(ref Utf8JsonReader reader, string field, ref int index, ElementDecoder decode, int resourceIndex = 0, int scopeIndex = 0)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return;
        }

        if (reader.TokenType != JsonTokenType.StartArray)
        {
            OtlpDecodeException.Throw(OtlpRejectReason.InvalidJson, $"{field} must be an array, not {Describe(reader.TokenType)}", reader.TokenStartIndex);
        }

        var frame = new JsonBatchDecoderFrame(this, resourceIndex, scopeIndex);
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            try
            {
                decode(frame, ref reader, index);
            }
            catch (OtlpDecodeException e)
            {
                throw e.Within(field, index);
            }

            index++;
        }
    }

    private delegate void ElementDecoder(JsonBatchDecoderFrame frame, ref Utf8JsonReader reader, int index);

    /// <summary>What an element decoder needs besides the reader (passed explicitly so the delegates stay static).</summary>
    private readonly record struct JsonBatchDecoderFrame(OtlpJsonDecoder Decoder, int ResourceIndex, int ScopeIndex);
}
