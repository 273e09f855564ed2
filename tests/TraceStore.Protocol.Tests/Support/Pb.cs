using System.Text;

namespace TraceStore.Protocol.Tests.Support;

/// <summary>A minimal protobuf writer for hand-made (and deliberately malformed) test messages.</summary>
internal sealed class Pb
{
    private readonly List<byte> _bytes = [];

    public int Length => _bytes.Count;

    public static byte[] Id(int size, byte fill = 0xAB) => Enumerable.Repeat(fill, size).ToArray();

    public Pb Tag(int field, int wireType) => Varint(((ulong)field << 3) | (uint)wireType);

    public Pb Varint(ulong value)
    {
        do
        {
            var b = (byte)(value & 0x7F);
            value >>= 7;
            _bytes.Add(value == 0 ? b : (byte)(b | 0x80));
        }
        while (value != 0);
        return this;
    }

    public Pb Raw(params byte[] bytes)
    {
        _bytes.AddRange(bytes);
        return this;
    }

    public Pb VarintField(int field, ulong value) => Tag(field, 0).Varint(value);

    public Pb Fixed64(int field, ulong value) => Tag(field, 1).Raw(BitConverter.GetBytes(value));

    public Pb Fixed32(int field, uint value) => Tag(field, 5).Raw(BitConverter.GetBytes(value));

    public Pb Bytes(int field, byte[] value) => Tag(field, 2).Varint((ulong)value.Length).Raw(value);

    public Pb String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    public Pb Message(int field, Pb inner) => Bytes(field, inner.ToArray());

    public byte[] ToArray() => [.. _bytes];

    /// <summary>A valid span with ids (trace 0xAB.., span 0x01..) and a name.</summary>
    public static Pb Span(string name = "span", byte spanFill = 0x01) =>
        new Pb().Bytes(1, Id(16)).Bytes(2, Id(8, spanFill)).String(5, name).Fixed64(7, 1000).Fixed64(8, 2000);

    /// <summary>ExportTraceServiceRequest { resource_spans { scope_spans { spans... } } }.</summary>
    public static byte[] Request(params Pb[] spans)
    {
        var scope = new Pb();
        foreach (var span in spans)
        {
            scope.Message(2, span);
        }

        return new Pb().Message(1, new Pb().Message(2, scope)).ToArray();
    }

    /// <summary>A request whose only resource has the given resource message.</summary>
    public static byte[] RequestWithResource(Pb resource) =>
        new Pb().Message(1, new Pb().Message(1, resource).Message(2, new Pb().Message(2, Span()))).ToArray();

    /// <summary>KeyValue { key, value: AnyValue { string_value } }.</summary>
    public static Pb StringAttribute(string key, string value) => new Pb().String(1, key).Message(2, new Pb().String(1, value));
}
