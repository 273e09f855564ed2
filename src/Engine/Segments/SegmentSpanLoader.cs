using System.Globalization;
using System.Text;
using TraceStore.DuckDb;
using TraceStore.Engine.Assembly;
using TraceStore.Protocol.GenAi;
using TraceStore.Protocol.Model;

namespace TraceStore.Engine.Segments;

/// <summary>
/// Reads the spans of one trace back from a committed segment into a <see cref="TraceBuffer"/>, with everything the
/// summary needs (type, payloads, tokens, model, session, user, service, attributes, events): how the sealer
/// completes a trace that gets late spans, so the summary it writes covers every part, not just the last.
/// </summary>
internal static class SegmentSpanLoader
{
    public static void LoadInto(DuckDbConnection connection, SegmentInfo segment, string traceId, TraceBuffer target, long nowTicks)
    {
        using var query = connection.Prepare(SegmentFormat.SpansOfTraceSql(segment.Folder));
        query.Bind(1, traceId);
        using var result = query.Execute();
        foreach (var r in result.ReadAllRows())
        {
            var spanId = ParseSpanId((string)r[0]!);
            if (target.Contains(spanId))
            {
                continue;
            }

            Append(target, r, spanId, nowTicks);
        }
    }

    private static void Append(TraceBuffer target, object?[] r, SpanId spanId, long nowTicks)
    {
        var arena = target.Arena;
        ArenaSlice Text(object? value) => value is string s ? arena.Append(Encoding.UTF8.GetBytes(s)) : default;
        var attributesStart = target.Attributes.Count;
        foreach (var entry in (List<KeyValuePair<object, object?>>)r[15]!)
        {
            target.Attributes.Add() = new StoredKeyValue(Text(entry.Key), Text(entry.Value));
        }

        ArenaSlice Payload(object? key, object? value)
        {
            if (key is null)
            {
                return default;
            }

            var slice = Text(value);
            target.Attributes.Add() = new StoredKeyValue(Text(key), slice);
            return slice;
        }

        var inputs = Payload(r[21], r[22]);
        var outputs = Payload(r[23], r[24]);
        var eventsStart = target.Events.Count;
        foreach (var item in (List<object?>)r[16]!)
        {
            var spanEvent = (Dictionary<string, object?>)item!;
            target.Events.Add() = new StoredEvent(Text(spanEvent["name"]), (ulong)(long)spanEvent["time_ns"]!, Text(spanEvent["attributes"]));
        }

        TokenUsage? usage = r[11] is null && r[12] is null && r[13] is null
            ? null
            : new TokenUsage((long?)r[11] ?? 0, (long?)r[12] ?? 0, (long?)r[13] ?? 0, (long?)r[17], (long?)r[18]);
        target.Spans.Add() = new StoredSpan
        {
            SpanId = spanId,
            ParentSpanId = r[1] is string parent ? ParseSpanId(parent) : default,
            Name = Text(r[2]),
            SpanType = Text(r[3]),
            Kind = (SpanKind)(sbyte)r[4]!,
            StartTimeUnixNano = (ulong)(long)r[5]!,
            EndTimeUnixNano = r[6] is long end ? (ulong)end : 0,
            StatusCode = (string)r[7]! switch { "OK" => StatusCode.Ok, "ERROR" => StatusCode.Error, _ => StatusCode.Unset },
            StatusMessage = Text(r[8]),
            Model = Text(r[9]),
            Provider = Text(r[10]),
            Usage = usage,
            ServiceName = Text(r[14]),
            SessionId = Text(r[19]),
            UserId = Text(r[20]),
            Inputs = inputs,
            Outputs = outputs,
            Attributes = new RecordRange(attributesStart, target.Attributes.Count - attributesStart),
            Events = new RecordRange(eventsStart, target.Events.Count - eventsStart),
            WalSequence = long.MaxValue,
        };
        target.IndexLastSpan(nowTicks);
    }

    private static SpanId ParseSpanId(string hex) => new(ulong.Parse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture));
}
