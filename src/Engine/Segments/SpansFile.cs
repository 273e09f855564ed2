using TraceStore.DuckDb;
using TraceStore.DuckDb.TableFunctions;
using TraceStore.Engine.Traces;
using TraceStore.Protocol.Model;

namespace TraceStore.Engine.Segments;

/// <summary><c>spans.parquet</c>: one row per span without its payload, in (trace_id, start_time_ns, span_id) order.</summary>
internal sealed class SpansFile : SegmentFile
{
    private static readonly DuckDbLogicalType Varchar = DuckDbLogicalType.Varchar;
    private static readonly DuckDbLogicalType BigInt = DuckDbLogicalType.BigInt;

    public override IReadOnlyList<DuckDbColumn> Columns { get; } =
    [
        new("experiment_id", Varchar), new("trace_id", Varchar), new("span_id", Varchar), new("parent_span_id", Varchar),
        new("name", Varchar), new("span_type", Varchar), new("kind", DuckDbLogicalType.TinyInt),
        new("start_time_ns", BigInt), new("end_time_ns", BigInt), new("status", Varchar), new("status_message", Varchar),
        new("model", Varchar), new("provider", Varchar), new("input_tokens", BigInt), new("output_tokens", BigInt), new("total_tokens", BigInt),
        new("service_name", Varchar), new("attributes", DuckDbLogicalType.Map(Varchar, Varchar)),
        new("events", DuckDbLogicalType.List(DuckDbLogicalType.Struct(new("name", Varchar), new("time_ns", BigInt), new("attributes", Varchar)))),
        new("cache_read_input_tokens", BigInt), new("cache_creation_input_tokens", BigInt), new("session_id", Varchar), new("user_id", Varchar),
        new("size_bytes", DuckDbLogicalType.Integer),
    ];

    public override int RowCount(SegmentRows rows) => rows.SpanCount;

    public override void Write(SegmentRows rows, int first, int count, DuckDbTableOutput output)
    {
        var order = rows.Spans.Slice(first, count);
        var traces = rows.Traces;
        Span<DuckDbVectorWriter> c = new DuckDbVectorWriter[Columns.Count];
        for (var i = 0; i < c.Length; i++)
        {
            c[i] = output.Column(i);
        }

        // Every span's attribute map and event list lands in one child vector per column: grown once per chunk.
        int attributeEntries = 0, eventEntries = 0;
        foreach (var at in order)
        {
            var buffer = traces[at.Trace];
            ref readonly var span = ref buffer.Spans[at.Span];
            foreach (ref readonly var attribute in buffer.Attributes.Slice(span.Attributes))
            {
                attributeEntries += SegmentRows.IsPayload(span, attribute) ? 0 : 1;
            }

            eventEntries += span.Events.Count;
        }

        var entries = c[17].AppendListChildren(attributeEntries, out var entry);
        var keys = entries.GetField(0);
        var values = entries.GetField(1);
        var events = c[18].AppendListChildren(eventEntries, out var eventAt);
        var eventNames = events.GetField(0);
        var eventTimes = events.GetField(1);
        var eventAttributes = events.GetField(2);

        for (var row = 0; row < order.Length; row++)
        {
            var at = order[row];
            var buffer = traces[at.Trace];
            ref readonly var span = ref buffer.Spans[at.Span];
            c[0].SetUtf8InPlace(row, rows.ExperimentId(at.Trace));
            c[1].SetUtf8InPlace(row, rows.TraceId(at.Trace));
            c[2].SetUtf8InPlace(row, rows.SpanId(at));
            if (span.IsRoot)
            {
                c[3].SetNull(row);
            }
            else
            {
                c[3].SetUtf8InPlace(row, rows.ParentId(at));
            }

            c[4].SetUtf8InPlace(row, Stable(buffer.Bytes(span.Name)));
            c[5].SetUtf8InPlace(row, Stable(buffer.Bytes(span.SpanType)));
            c[6].SetSByte(row, (sbyte)span.Kind);
            c[7].SetInt64(row, (long)span.StartTimeUnixNano);
            SetOptional(c[8], row, (long)span.EndTimeUnixNano, span.HasEnded);
            c[9].SetUtf8(row, span.StatusCode switch { StatusCode.Ok => "OK"u8, StatusCode.Error => "ERROR"u8, _ => "UNSET"u8 });
            SetOptional(c[10], row, buffer.Bytes(span.StatusMessage), !span.StatusMessage.IsEmpty);
            SetOptional(c[11], row, buffer.Bytes(span.Model), !span.Model.IsEmpty);
            SetOptional(c[12], row, buffer.Bytes(span.Provider), !span.Provider.IsEmpty);
            SetOptional(c[13], row, span.Usage?.InputTokens ?? 0, span.Usage is not null);
            SetOptional(c[14], row, span.Usage?.OutputTokens ?? 0, span.Usage is not null);
            SetOptional(c[15], row, span.Usage?.TotalTokens ?? 0, span.Usage is not null);
            SetOptional(c[16], row, buffer.Bytes(span.ServiceName), !span.ServiceName.IsEmpty);

            var firstEntry = entry;
            foreach (ref readonly var attribute in buffer.Attributes.Slice(span.Attributes))
            {
                if (!SegmentRows.IsPayload(span, attribute))
                {
                    keys.SetUtf8InPlace(entry, Stable(buffer.Bytes(attribute.Key)));
                    values.SetUtf8InPlace(entry, Stable(buffer.Bytes(attribute.Value)));
                    entry++;
                }
            }

            c[17].SetListEntry(row, firstEntry, entry - firstEntry);
            c[18].SetListEntry(row, eventAt, span.Events.Count);
            foreach (ref readonly var spanEvent in buffer.Events.Slice(span.Events))
            {
                eventNames.SetUtf8InPlace(eventAt, Stable(buffer.Bytes(spanEvent.Name)));
                eventTimes.SetInt64(eventAt, (long)spanEvent.TimeUnixNano);
                SetOptional(eventAttributes, eventAt, buffer.Bytes(spanEvent.Attributes), !spanEvent.Attributes.IsEmpty);
                eventAt++;
            }

            SetOptional(c[19], row, span.Usage?.CacheReadInputTokens ?? 0, span.Usage?.CacheReadInputTokens is not null);
            SetOptional(c[20], row, span.Usage?.CacheCreationInputTokens ?? 0, span.Usage?.CacheCreationInputTokens is not null);
            SetOptional(c[21], row, buffer.Bytes(span.SessionId), !span.SessionId.IsEmpty);
            SetOptional(c[22], row, buffer.Bytes(span.UserId), !span.UserId.IsEmpty);

            // Stored so that a summary covering a trace sealed in parts gets exact size statistics without reading the
            // earlier parts' attributes and payloads back (SealedTraceParts).
            c[23].SetInt32(row, (int)Math.Min(int.MaxValue, SpanSize.Of(buffer, span)));
        }
    }
}
