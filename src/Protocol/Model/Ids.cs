using System.Buffers.Binary;

namespace TraceStore.Protocol.Model;

/// <summary>A 128-bit OpenTelemetry trace id, big-endian as on the wire. The all-zero id is invalid.</summary>
public readonly record struct TraceId(ulong High, ulong Low)
{
    public const int Size = 16;

    public bool IsEmpty => High == 0 && Low == 0;

    public static TraceId FromBytes(ReadOnlySpan<byte> bytes) =>
        new(BinaryPrimitives.ReadUInt64BigEndian(bytes), BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]));

    public void WriteBytes(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, High);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], Low);
    }

    /// <summary>32 lowercase hex characters, as OTLP/JSON and MLflow write it.</summary>
    public string ToHex() => $"{High:x16}{Low:x16}";

    /// <summary>MLflow's trace id for this OpenTelemetry trace: <c>tr-</c> and 32 lowercase hex characters.</summary>
    public string ToMlflowId() => "tr-" + ToHex();

    public override string ToString() => ToHex();
}

/// <summary>A 64-bit OpenTelemetry span id, big-endian as on the wire. Zero means "none".</summary>
public readonly record struct SpanId(ulong Value)
{
    public const int Size = 8;

    public bool IsEmpty => Value == 0;

    public static SpanId FromBytes(ReadOnlySpan<byte> bytes) => new(BinaryPrimitives.ReadUInt64BigEndian(bytes));

    public void WriteBytes(Span<byte> destination) => BinaryPrimitives.WriteUInt64BigEndian(destination, Value);

    /// <summary>16 lowercase hex characters.</summary>
    public string ToHex() => Value.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);

    public override string ToString() => ToHex();
}
