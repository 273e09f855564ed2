using System.Text;
using TraceStore.Protocol.GenAi;
using TraceStore.Protocol.Model;

namespace TraceStore.Engine.Assembly;

/// <summary>
/// Copies spans out of a decoded (pooled, soon reused) <see cref="SpanBatch"/> into the trace buffers that keep them:
/// ids, times, status, name, MLflow's GenAI facts (<see cref="GenAiConventions.Describe"/>), attributes in MLflow's
/// stored JSON form, events, and the resource's <c>service.name</c>. Links, trace state, flags and dropped counts are
/// not kept, as MLflow does not keep them.
/// </summary>
public static class SpanCopier
{
    private static readonly byte[] ServiceNameKey = "service.name"u8.ToArray();

    /// <summary>Appends <paramref name="span"/> to <paramref name="buffer"/> unless a span with its id is there already
    /// (a client's retry): returns false then, and the buffer is unchanged.</summary>
    public static bool Copy(SpanBatch batch, in SpanRecord span, TraceBuffer buffer, long walSequence, long nowTicks)
    {
        if (buffer.Contains(span.SpanId))
        {
            buffer.DuplicateSpans++;
            return false;
        }

        var arena = buffer.Arena;
        var genAi = GenAiConventions.Describe(batch, span);
        var attributesStart = buffer.Attributes.Count;
        int inputsAt = -1, outputsAt = -1, modelAt = -1, providerAt = -1, sessionAt = -1, userAt = -1;
        // A repeated key is stored once, at its first position with its last value, as MLflow's dict keeps it; the
        // GenAI facts (genAi.*Attribute) already name each key's last occurrence.
        var distinct = RepeatedKeys.Any(batch, span.Attributes) ? RepeatedKeys.LastOccurrences(batch, span.Attributes) : null;
        var attributeCount = distinct?.Length ?? span.Attributes.Count;
        for (var n = 0; n < attributeCount; n++)
        {
            var i = distinct is null ? span.Attributes.Start + n : distinct[n];
            ref readonly var attribute = ref batch.KeyValues[i];
            buffer.Attributes.Add() = new StoredKeyValue(arena.Append(batch.Bytes(attribute.Key)), MlflowStoredJson.Write(arena, batch, attribute.Value));
            var at = buffer.Attributes.Count - 1;
            inputsAt = i == genAi.InputsAttribute ? at : inputsAt;
            outputsAt = i == genAi.OutputsAttribute ? at : outputsAt;
            modelAt = i == genAi.ModelAttribute ? at : modelAt;
            providerAt = i == genAi.ProviderAttribute ? at : providerAt;
            sessionAt = i == genAi.SessionAttribute ? at : sessionAt;
            userAt = i == genAi.UserAttribute ? at : userAt;
        }

        var eventsStart = buffer.Events.Count;
        foreach (ref readonly var spanEvent in batch.Events.Slice(span.Events))
        {
            buffer.Events.Add() = new StoredEvent(arena.Append(batch.Bytes(spanEvent.Name)), spanEvent.TimeUnixNano, WriteEventAttributes(arena, batch, spanEvent.Attributes));
        }

        ref var stored = ref buffer.Spans.Add();
        stored = new StoredSpan
        {
            SpanId = span.SpanId,
            ParentSpanId = span.ParentSpanId,
            Name = arena.Append(batch.Bytes(span.Name)),
            Kind = span.Kind,
            StartTimeUnixNano = span.StartTimeUnixNano,
            EndTimeUnixNano = span.EndTimeUnixNano,
            StatusCode = span.StatusCode,
            StatusMessage = arena.Append(batch.Bytes(span.StatusMessage)),
            SpanType = AppendUtf8(arena, genAi.SpanType),
            Inputs = ValueOf(buffer, inputsAt),
            Outputs = ValueOf(buffer, outputsAt),
            Usage = genAi.Usage,
            Model = TextOf(buffer, batch, genAi.ModelAttribute),
            Provider = TextOf(buffer, batch, genAi.ProviderAttribute),
            SessionId = TextOf(buffer, batch, genAi.SessionAttribute),
            UserId = TextOf(buffer, batch, genAi.UserAttribute),
            ServiceName = ServiceName(batch, span, arena),
            Attributes = new RecordRange(attributesStart, buffer.Attributes.Count - attributesStart),
            Events = new RecordRange(eventsStart, buffer.Events.Count - eventsStart),
            WalSequence = walSequence,
        };
        buffer.IndexLastSpan(nowTicks);
        return true;
    }

    private static ArenaSlice ValueOf(TraceBuffer buffer, int attributeAt) => attributeAt < 0 ? default : buffer.Attributes[attributeAt].Value;

    /// <summary>Model, provider, session and user as plain text (a JSON-encoded string unwrapped), copied into the arena.
    /// A plain string value (the usual case) is copied as it is, without allocating.</summary>
    private static ArenaSlice TextOf(TraceBuffer buffer, SpanBatch batch, int attribute)
    {
        if (attribute < 0)
        {
            return default;
        }

        var value = batch.KeyValues[attribute].Value;
        var bytes = batch.Bytes(value.Bytes);
        if (value.Kind == AnyValueKind.String && !(bytes.Length >= 2 && bytes[0] == (byte)'"' && bytes[^1] == (byte)'"'))
        {
            return buffer.Arena.Append(bytes);
        }

        return GenAiSpan.Text(batch, attribute) is { Length: > 0 } text ? AppendUtf8(buffer.Arena, text) : default;
    }

    /// <summary>Encodes <paramref name="text"/> straight into the arena.</summary>
    private static ArenaSlice AppendUtf8(ByteArena arena, string text) =>
        arena.Commit(Encoding.UTF8.GetBytes(text, arena.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length))));

    private static ArenaSlice ServiceName(SpanBatch batch, in SpanRecord span, ByteArena arena)
    {
        // The last service.name counts, as in a dict of the resource's attributes.
        var resource = batch.Resources[batch.Scopes[span.ScopeIndex].ResourceIndex];
        var attributes = batch.KeyValues.Slice(resource.Attributes);
        for (var i = attributes.Length - 1; i >= 0; i--)
        {
            if (batch.Bytes(attributes[i].Key).SequenceEqual(ServiceNameKey))
            {
                return attributes[i].Value.Kind == AnyValueKind.String ? arena.Append(batch.Bytes(attributes[i].Value.Bytes)) : default;
            }
        }

        return default;
    }

    /// <summary>Event attributes as one JSON object of raw (not JSON-encoded) values, as MLflow keeps them.</summary>
    private static ArenaSlice WriteEventAttributes(ByteArena arena, SpanBatch batch, RecordRange attributes)
    {
        if (attributes.Count == 0)
        {
            return default;
        }

        var json = new StringBuilder("{");
        var first = true;
        foreach (var i in RepeatedKeys.Entries(batch, attributes))
        {
            ref readonly var attribute = ref batch.KeyValues[i];
            json.Append(first ? "" : ", ");
            first = false;
            // The key goes through the same Python-style string encoding as the values (JsonSerializer would
            // \u-escape non-ASCII and HTML-sensitive characters such as '<' and '+').
            var key = new AnyValueRecord(AnyValueKind.String, 0, attribute.Key, default);
            json.Append(MlflowAttributeJson.Encode(batch, key)).Append(": ").Append(MlflowAttributeJson.Encode(batch, attribute.Value));
        }

        return arena.Append(Encoding.UTF8.GetBytes(json.Append('}').ToString()));
    }
}
