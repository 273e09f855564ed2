using System.Buffers;
using System.Buffers.Text;
using TraceStore.Protocol.Model;

namespace TraceStore.Engine.Segments;

/// <summary>Ids as segments store them: text, so plain SQL can compare them with what MLflow shows.</summary>
internal static class SegmentIds
{
    /// <summary>Bytes of a trace id: <c>tr-</c> and 32 lowercase hex digits.</summary>
    public const int TraceIdLength = 35;

    /// <summary>Bytes of a span id: 16 lowercase hex digits.</summary>
    public const int SpanIdLength = 16;

    private static readonly StandardFormat Hex16 = new('x', 16);

    /// <summary>MLflow's trace id: <c>tr-</c> and 32 lowercase hex digits.</summary>
    public static void FormatTraceId(TraceId id, Span<byte> destination)
    {
        "tr-"u8.CopyTo(destination);
        Utf8Formatter.TryFormat(id.High, destination[3..], out _, Hex16);
        Utf8Formatter.TryFormat(id.Low, destination[19..], out _, Hex16);
    }

    public static string TraceIdText(TraceId id)
    {
        Span<byte> text = stackalloc byte[TraceIdLength];
        FormatTraceId(id, text);
        return System.Text.Encoding.ASCII.GetString(text);
    }

    public static void FormatSpanId(SpanId id, Span<byte> destination) => Utf8Formatter.TryFormat(id.Value, destination, out _, Hex16);
}
