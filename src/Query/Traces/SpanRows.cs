using TraceStore.Engine.Assembly;
using TraceStore.Protocol.Model;

namespace TraceStore.Query.Traces;

/// <summary>
/// Spans in the form reads return them (<see cref="SpanRow"/>), from a segment query or from an unsealed trace buffer.
/// Both give the same row for the same span: the attributes in their stored order, the payload attributes (inputs,
/// then outputs) last, as the segment files keep them apart.
/// </summary>
internal static class SpanRows
{
    /// <summary>A row of <see cref="Engine.Segments.SegmentFormat.SpansOfTraceSql"/>'s columns (same order).</summary>
    public static SpanRow FromSegmentRow(string traceId, object?[] r)
    {
        var attributes = ((List<KeyValuePair<object, object?>>)r[15]!).Select(e => new KeyValuePair<string, string>((string)e.Key, (string)e.Value!)).ToList();
        if (r[21] is string inputsKey)
        {
            attributes.Add(new(inputsKey, (string)r[22]!));
        }

        if (r[23] is string outputsKey)
        {
            attributes.Add(new(outputsKey, (string)r[24]!));
        }

        var events = ((List<object?>)r[16]!).Cast<Dictionary<string, object?>>()
            .Select(e => new EventRow((string)e["name"]!, (long)e["time_ns"]!, (string?)e["attributes"]))
            .ToList();
        return new SpanRow(traceId, (string)r[0]!, (string?)r[1], (string)r[2]!, (long)r[5]!, (long?)r[6], (string)r[7]!, (string?)r[8], attributes, events);
    }

    /// <summary>Span <paramref name="index"/> of an unsealed trace's buffer.</summary>
    public static SpanRow FromBuffer(TraceBuffer buffer, int index, string traceId)
    {
        ref readonly var span = ref buffer.Spans[index];
        var attributes = new List<KeyValuePair<string, string>>(span.Attributes.Count);
        ArenaSlice inputsKey = default, outputsKey = default;
        foreach (ref readonly var attribute in buffer.Attributes.Slice(span.Attributes))
        {
            var isInputs = !span.Inputs.IsEmpty && attribute.Value == span.Inputs;
            var isOutputs = !span.Outputs.IsEmpty && attribute.Value == span.Outputs;
            inputsKey = isInputs && inputsKey.IsEmpty ? attribute.Key : inputsKey;
            outputsKey = isOutputs && outputsKey.IsEmpty ? attribute.Key : outputsKey;
            if (!isInputs && !isOutputs)
            {
                attributes.Add(new(buffer.GetString(attribute.Key), buffer.GetString(attribute.Value)));
            }
        }

        if (!span.Inputs.IsEmpty)
        {
            attributes.Add(new(buffer.GetString(inputsKey), buffer.GetString(span.Inputs)));
        }

        if (!span.Outputs.IsEmpty)
        {
            attributes.Add(new(buffer.GetString(outputsKey), buffer.GetString(span.Outputs)));
        }

        var events = new List<EventRow>(span.Events.Count);
        foreach (ref readonly var spanEvent in buffer.Events.Slice(span.Events))
        {
            events.Add(new EventRow(buffer.GetString(spanEvent.Name), (long)spanEvent.TimeUnixNano, spanEvent.Attributes.IsEmpty ? null : buffer.GetString(spanEvent.Attributes)));
        }

        return new SpanRow(
            traceId,
            span.SpanId.ToHex(),
            span.IsRoot ? null : span.ParentSpanId.ToHex(),
            buffer.GetString(span.Name),
            (long)span.StartTimeUnixNano,
            span.HasEnded ? (long)span.EndTimeUnixNano : null,
            span.StatusCode switch { StatusCode.Ok => "OK", StatusCode.Error => "ERROR", _ => "UNSET" },
            span.StatusMessage.IsEmpty ? null : buffer.GetString(span.StatusMessage),
            attributes,
            events);
    }
}
