using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace TraceStore.Protocol.Model;

/// <summary>
/// The per-span checks both decoders apply once a span is complete. Id lengths are what arrived on the wire:
/// 0 when absent, negative (-16, -8) when present but all zeros.
/// Locals are not zeroed on entry (<c>SkipLocalsInit</c>: see <see cref="Otlp.Protobuf.OtlpProtobufDecoder"/>).
/// </summary>
[SkipLocalsInit]
internal static class SpanValidation
{
    public const int AllZeroTraceId = -TraceId.Size;
    public const int AllZeroSpanId = -SpanId.Size;

    /// <summary>The length to record for an id field's bytes.</summary>
    public static int IdLength(ReadOnlySpan<byte> id) => id.Length switch
    {
        // The two lengths that arrive nearly always, checked without a call.
        TraceId.Size => (BinaryPrimitives.ReadUInt64LittleEndian(id) | BinaryPrimitives.ReadUInt64LittleEndian(id[8..])) == 0 ? -TraceId.Size : TraceId.Size,
        SpanId.Size => BinaryPrimitives.ReadUInt64LittleEndian(id) == 0 ? -SpanId.Size : SpanId.Size,
        > 0 when !id.ContainsAnyExcept((byte)0) => -id.Length,
        _ => id.Length,
    };

    public static string? Problem(in SpanRecord span, int traceIdLength, int spanIdLength, int parentIdLength)
    {
        if (traceIdLength != TraceId.Size)
        {
            return traceIdLength switch
            {
                0 => "trace_id is missing",
                AllZeroTraceId => "trace_id is all zeros",
                _ => $"trace_id is {Math.Abs(traceIdLength)} bytes; it must be 16",
            };
        }

        if (spanIdLength != SpanId.Size)
        {
            return spanIdLength switch
            {
                0 => "span_id is missing",
                AllZeroSpanId => "span_id is all zeros",
                _ => $"span_id is {Math.Abs(spanIdLength)} bytes; it must be 8",
            };
        }

        if (parentIdLength is not (0 or SpanId.Size or AllZeroSpanId))
        {
            return $"parent_span_id is {Math.Abs(parentIdLength)} bytes; it must be 8 or empty";
        }

        if (span.StartTimeUnixNano != 0 && span.EndTimeUnixNano != 0 && span.EndTimeUnixNano < span.StartTimeUnixNano)
        {
            return $"end_time_unix_nano {span.EndTimeUnixNano} is before start_time_unix_nano {span.StartTimeUnixNano}";
        }

        return null;
    }

    public static string? LinkProblem(int index, int traceIdLength, int spanIdLength) =>
        traceIdLength == TraceId.Size && spanIdLength == SpanId.Size
            ? null
            : $"links[{index}]: trace_id must be 16 bytes and span_id 8 bytes, not all zeros (got {Math.Abs(traceIdLength)} and {Math.Abs(spanIdLength)} bytes)";
}
