using System.Buffers.Text;
using TraceStore.DuckDb;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Traces;
using TraceStore.Protocol.Model;

namespace TraceStore.Engine.Segments;

/// <summary>
/// Appends the spans of sealed trace buffers to the staging tables (spans, payloads, attrs) a chunk at a time,
/// writing UTF-8 slices of the buffers straight into DuckDB's vectors.
/// </summary>
internal sealed class SpanRowWriter : IDisposable
{
    private readonly DuckDbChunkAppender _spans;
    private readonly DuckDbChunkAppender _payloads;
    private readonly DuckDbChunkAppender _attrs;

    public SpanRowWriter(DuckDbConnection connection)
    {
        _spans = connection.CreateChunkAppender("spans");
        _payloads = connection.CreateChunkAppender("payloads");
        _attrs = connection.CreateChunkAppender("attrs");
    }

    public long Spans => _spans.RowCount;

    public void Append(TraceBuffer buffer)
    {
        Span<byte> traceId = stackalloc byte[35];
        Span<byte> spanId = stackalloc byte[16];
        Span<byte> parentId = stackalloc byte[16];
        FormatTraceId(buffer.Key.TraceId, traceId);
        var experiment = System.Text.Encoding.UTF8.GetBytes(buffer.Key.ExperimentId);
        for (var i = 0; i < buffer.Spans.Count; i++)
        {
            ref readonly var span = ref buffer.Spans[i];
            FormatSpanId(span.SpanId, spanId);
            FormatSpanId(span.ParentSpanId, parentId);
            AppendSpan(buffer, span, experiment, traceId, spanId, parentId);
            AppendPayload(buffer, span, traceId, spanId);
            AppendAttrs(buffer, span, traceId, spanId);
        }
    }

    /// <summary>Flushes the last partial chunks and closes the appenders (the staging tables are then complete).</summary>
    public void Close()
    {
        _spans.Close();
        _payloads.Close();
        _attrs.Close();
    }

    public void Dispose()
    {
        _spans.Dispose();
        _payloads.Dispose();
        _attrs.Dispose();
    }

    private void AppendSpan(TraceBuffer buffer, in StoredSpan span, byte[] experiment, ReadOnlySpan<byte> traceId, ReadOnlySpan<byte> spanId, ReadOnlySpan<byte> parentId)
    {
        var row = _spans.AddRow();
        var c = 0;
        _spans.Column(c++).SetUtf8(row, experiment);
        _spans.Column(c++).SetUtf8(row, traceId);
        _spans.Column(c++).SetUtf8(row, spanId);
        SetOptional(_spans.Column(c++), row, span.IsRoot ? default : parentId, present: !span.IsRoot);
        _spans.Column(c++).SetUtf8(row, buffer.Bytes(span.Name));
        _spans.Column(c++).SetUtf8(row, buffer.Bytes(span.SpanType));
        _spans.Column(c++).SetSByte(row, (sbyte)span.Kind);
        _spans.Column(c++).SetInt64(row, (long)span.StartTimeUnixNano);
        SetOptional(_spans.Column(c++), row, (long)span.EndTimeUnixNano, span.HasEnded);
        _spans.Column(c++).SetUtf8(row, span.StatusCode switch { StatusCode.Ok => "OK"u8, StatusCode.Error => "ERROR"u8, _ => "UNSET"u8 });
        SetOptional(_spans.Column(c++), row, buffer.Bytes(span.StatusMessage), !span.StatusMessage.IsEmpty);
        SetOptional(_spans.Column(c++), row, buffer.Bytes(span.Model), !span.Model.IsEmpty);
        SetOptional(_spans.Column(c++), row, buffer.Bytes(span.Provider), !span.Provider.IsEmpty);
        SetOptional(_spans.Column(c++), row, span.Usage?.InputTokens ?? 0, span.Usage is not null);
        SetOptional(_spans.Column(c++), row, span.Usage?.OutputTokens ?? 0, span.Usage is not null);
        SetOptional(_spans.Column(c++), row, span.Usage?.TotalTokens ?? 0, span.Usage is not null);
        SetOptional(_spans.Column(c++), row, buffer.Bytes(span.ServiceName), !span.ServiceName.IsEmpty);

        var attributes = _spans.Column(c++);
        var kept = 0;
        foreach (ref readonly var attribute in buffer.Attributes.Slice(span.Attributes))
        {
            kept += IsPayload(span, attribute) ? 0 : 1;
        }

        var entries = attributes.BeginList(row, kept, out var at);
        var keys = entries.GetField(0);
        var values = entries.GetField(1);
        foreach (ref readonly var attribute in buffer.Attributes.Slice(span.Attributes))
        {
            if (!IsPayload(span, attribute))
            {
                keys.SetUtf8(at, buffer.Bytes(attribute.Key));
                values.SetUtf8(at, buffer.Bytes(attribute.Value));
                at++;
            }
        }

        var events = _spans.Column(c++).BeginList(row, span.Events.Count, out var eventAt);
        var names = events.GetField(0);
        var times = events.GetField(1);
        var eventAttributes = events.GetField(2);
        foreach (ref readonly var spanEvent in buffer.Events.Slice(span.Events))
        {
            names.SetUtf8(eventAt, buffer.Bytes(spanEvent.Name));
            times.SetInt64(eventAt, (long)spanEvent.TimeUnixNano);
            SetOptional(eventAttributes, eventAt, buffer.Bytes(spanEvent.Attributes), !spanEvent.Attributes.IsEmpty);
            eventAt++;
        }

        SetOptional(_spans.Column(c++), row, span.Usage?.CacheReadInputTokens ?? 0, span.Usage?.CacheReadInputTokens is not null);
        SetOptional(_spans.Column(c++), row, span.Usage?.CacheCreationInputTokens ?? 0, span.Usage?.CacheCreationInputTokens is not null);
        SetOptional(_spans.Column(c++), row, buffer.Bytes(span.SessionId), !span.SessionId.IsEmpty);
        SetOptional(_spans.Column(c++), row, buffer.Bytes(span.UserId), !span.UserId.IsEmpty);

        // Stored so that a summary covering a trace sealed in parts gets exact size statistics without reading the
        // earlier parts' attributes and payloads back (SealedTraceParts).
        _spans.Column(c).SetInt32(row, (int)Math.Min(int.MaxValue, SpanSize.Of(buffer, span)));
    }

    private void AppendPayload(TraceBuffer buffer, in StoredSpan span, ReadOnlySpan<byte> traceId, ReadOnlySpan<byte> spanId)
    {
        if (span.Inputs.IsEmpty && span.Outputs.IsEmpty)
        {
            return;
        }

        var row = _payloads.AddRow();
        _payloads.Column(0).SetUtf8(row, traceId);
        _payloads.Column(1).SetUtf8(row, spanId);
        _payloads.Column(2).SetInt64(row, (long)span.StartTimeUnixNano);
        var inputsKey = KeyOf(buffer, span, span.Inputs);
        var outputsKey = KeyOf(buffer, span, span.Outputs);
        SetOptional(_payloads.Column(3), row, buffer.Bytes(inputsKey), !span.Inputs.IsEmpty);
        SetOptional(_payloads.Column(4), row, buffer.Bytes(span.Inputs), !span.Inputs.IsEmpty);
        SetOptional(_payloads.Column(5), row, buffer.Bytes(outputsKey), !span.Outputs.IsEmpty);
        SetOptional(_payloads.Column(6), row, buffer.Bytes(span.Outputs), !span.Outputs.IsEmpty);
    }

    private void AppendAttrs(TraceBuffer buffer, in StoredSpan span, ReadOnlySpan<byte> traceId, ReadOnlySpan<byte> spanId)
    {
        foreach (ref readonly var attribute in buffer.Attributes.Slice(span.Attributes))
        {
            if (IsPayload(span, attribute))
            {
                continue;
            }

            var row = _attrs.AddRow();
            _attrs.Column(0).SetUtf8(row, buffer.Bytes(attribute.Key));
            _attrs.Column(1).SetUtf8(row, buffer.Bytes(attribute.Value));
            _attrs.Column(2).SetUtf8(row, traceId);
            _attrs.Column(3).SetUtf8(row, spanId);
        }
    }

    /// <summary>The inputs and outputs are the values of attributes (the copier points at them): those attributes live
    /// in the payload file, not beside the light span columns.</summary>
    private static bool IsPayload(in StoredSpan span, in StoredKeyValue attribute) =>
        (!span.Inputs.IsEmpty && attribute.Value == span.Inputs) || (!span.Outputs.IsEmpty && attribute.Value == span.Outputs);

    private static ArenaSlice KeyOf(TraceBuffer buffer, in StoredSpan span, ArenaSlice value)
    {
        foreach (ref readonly var attribute in buffer.Attributes.Slice(span.Attributes))
        {
            if (attribute.Value == value)
            {
                return attribute.Key;
            }
        }

        return default;
    }

    private static void SetOptional(DuckDbVectorWriter column, int row, ReadOnlySpan<byte> utf8, bool present)
    {
        if (present)
        {
            column.SetUtf8(row, utf8);
        }
        else
        {
            column.SetNull(row);
        }
    }

    private static void SetOptional(DuckDbVectorWriter column, int row, long value, bool present)
    {
        if (present)
        {
            column.SetInt64(row, value);
        }
        else
        {
            column.SetNull(row);
        }
    }

    /// <summary>MLflow's trace id: <c>tr-</c> and 32 lowercase hex digits.</summary>
    internal static void FormatTraceId(TraceId id, Span<byte> destination)
    {
        "tr-"u8.CopyTo(destination);
        Utf8Formatter.TryFormat(id.High, destination[3..], out _, new System.Buffers.StandardFormat('x', 16));
        Utf8Formatter.TryFormat(id.Low, destination[19..], out _, new System.Buffers.StandardFormat('x', 16));
    }

    internal static void FormatSpanId(SpanId id, Span<byte> destination) =>
        Utf8Formatter.TryFormat(id.Value, destination, out _, new System.Buffers.StandardFormat('x', 16));
}
