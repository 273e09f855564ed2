using System.Text;
using TraceStore.DuckDb.Native;

namespace TraceStore.DuckDb;

/// <summary>A member of a STRUCT type.</summary>
internal readonly record struct DuckDbStructField(string Name, DuckDbLogicalType Type);

/// <summary>
/// A managed, immutable description of a DuckDB logical type, read once per result or appender (not per
/// chunk) so that readers and writers never call into native code to learn a type. Nested types carry their
/// children: LIST its element, STRUCT its fields, MAP its key and value (and, as the element, the
/// STRUCT(key, value) that a MAP vector holds physically).
/// </summary>
internal sealed class DuckDbLogicalType : IEquatable<DuckDbLogicalType>
{
    public static readonly DuckDbLogicalType Boolean = new(DuckDbTypeId.Boolean);
    public static readonly DuckDbLogicalType TinyInt = new(DuckDbTypeId.TinyInt);
    public static readonly DuckDbLogicalType SmallInt = new(DuckDbTypeId.SmallInt);
    public static readonly DuckDbLogicalType Integer = new(DuckDbTypeId.Integer);
    public static readonly DuckDbLogicalType BigInt = new(DuckDbTypeId.BigInt);
    public static readonly DuckDbLogicalType UTinyInt = new(DuckDbTypeId.UTinyInt);
    public static readonly DuckDbLogicalType USmallInt = new(DuckDbTypeId.USmallInt);
    public static readonly DuckDbLogicalType UInteger = new(DuckDbTypeId.UInteger);
    public static readonly DuckDbLogicalType UBigInt = new(DuckDbTypeId.UBigInt);
    public static readonly DuckDbLogicalType HugeInt = new(DuckDbTypeId.HugeInt);
    public static readonly DuckDbLogicalType Float = new(DuckDbTypeId.Float);
    public static readonly DuckDbLogicalType Double = new(DuckDbTypeId.Double);
    public static readonly DuckDbLogicalType Varchar = new(DuckDbTypeId.Varchar);
    public static readonly DuckDbLogicalType Blob = new(DuckDbTypeId.Blob);
    public static readonly DuckDbLogicalType Timestamp = new(DuckDbTypeId.Timestamp);
    public static readonly DuckDbLogicalType TimestampTz = new(DuckDbTypeId.TimestampTz);
    public static readonly DuckDbLogicalType Date = new(DuckDbTypeId.Date);

    private static readonly DuckDbStructField[] NoFields = [];

    private DuckDbLogicalType(DuckDbTypeId id)
    {
        Id = id;
        Fields = NoFields;
    }

    public DuckDbTypeId Id { get; }

    /// <summary>LIST: the element type. MAP: STRUCT(key, value).</summary>
    public DuckDbLogicalType? ElementType { get; private init; }

    /// <summary>STRUCT members in order (empty for other types).</summary>
    public IReadOnlyList<DuckDbStructField> Fields { get; private init; }

    public DuckDbLogicalType? KeyType { get; private init; }

    public DuckDbLogicalType? ValueType { get; private init; }

    public byte DecimalWidth { get; private init; }

    public byte DecimalScale { get; private init; }

    /// <summary>DECIMAL: the integer type that stores it (SMALLINT, INTEGER, BIGINT or HUGEINT by width).</summary>
    public DuckDbTypeId DecimalStorage { get; private init; }

    public static DuckDbLogicalType List(DuckDbLogicalType element) =>
        new(DuckDbTypeId.List) { ElementType = element };

    public static DuckDbLogicalType Struct(params DuckDbStructField[] fields)
    {
        ArgumentOutOfRangeException.ThrowIfZero(fields.Length);
        return new(DuckDbTypeId.Struct) { Fields = fields.ToArray() };
    }

    public static DuckDbLogicalType Map(DuckDbLogicalType key, DuckDbLogicalType value) =>
        new(DuckDbTypeId.Map)
        {
            KeyType = key,
            ValueType = value,
            ElementType = new(DuckDbTypeId.Struct) { Fields = [new("key", key), new("value", value)] },
        };

    public static DuckDbLogicalType Decimal(byte width, byte scale)
    {
        ArgumentOutOfRangeException.ThrowIfZero(width);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(width, (byte)38);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(scale, width);
        var storage = width switch
        {
            <= 4 => DuckDbTypeId.SmallInt,
            <= 9 => DuckDbTypeId.Integer,
            <= 18 => DuckDbTypeId.BigInt,
            _ => DuckDbTypeId.HugeInt,
        };
        return new(DuckDbTypeId.Decimal) { DecimalWidth = width, DecimalScale = scale, DecimalStorage = storage };
    }

    /// <summary>A type without parameters (not LIST, STRUCT, MAP or DECIMAL).</summary>
    public static DuckDbLogicalType Of(DuckDbTypeId id)
    {
        if (id is DuckDbTypeId.List or DuckDbTypeId.Struct or DuckDbTypeId.Map or DuckDbTypeId.Decimal
            or DuckDbTypeId.Enum or DuckDbTypeId.Union or DuckDbTypeId.Array or DuckDbTypeId.Invalid)
        {
            throw new ArgumentException($"{id} needs parameters; use the matching factory method.", nameof(id));
        }

        return new(id);
    }

    /// <summary>Describes a native logical type; the caller keeps ownership of <paramref name="type"/>.</summary>
    internal static DuckDbLogicalType FromNative(nint type)
    {
        var id = NativeMethods.LogicalTypes.GetTypeId(type);
        switch (id)
        {
            case DuckDbTypeId.List:
                using (var child = LogicalTypeHandle.Own(NativeMethods.LogicalTypes.ListChildType(type)))
                {
                    return List(FromNative(child.DangerousGetHandle()));
                }

            case DuckDbTypeId.Map:
                using (var key = LogicalTypeHandle.Own(NativeMethods.LogicalTypes.MapKeyType(type)))
                using (var value = LogicalTypeHandle.Own(NativeMethods.LogicalTypes.MapValueType(type)))
                {
                    return Map(FromNative(key.DangerousGetHandle()), FromNative(value.DangerousGetHandle()));
                }

            case DuckDbTypeId.Struct:
                var count = (int)NativeMethods.LogicalTypes.StructChildCount(type);
                var fields = new DuckDbStructField[count];
                for (var i = 0; i < count; i++)
                {
                    var name = NativeMethods.ReadUtf8AndFree(NativeMethods.LogicalTypes.StructChildName(type, (ulong)i)) ?? "";
                    using var member = LogicalTypeHandle.Own(NativeMethods.LogicalTypes.StructChildType(type, (ulong)i));
                    fields[i] = new(name, FromNative(member.DangerousGetHandle()));
                }

                return new(DuckDbTypeId.Struct) { Fields = fields };

            case DuckDbTypeId.Decimal:
                return new(DuckDbTypeId.Decimal)
                {
                    DecimalWidth = NativeMethods.LogicalTypes.DecimalWidth(type),
                    DecimalScale = NativeMethods.LogicalTypes.DecimalScale(type),
                    DecimalStorage = NativeMethods.LogicalTypes.DecimalInternalType(type),
                };

            default:
                return new(id);
        }
    }

    /// <summary>Creates the native type; the caller disposes the handle (DuckDB copies types it is given).</summary>
    internal unsafe LogicalTypeHandle CreateHandle()
    {
        switch (Id)
        {
            case DuckDbTypeId.List:
                using (var element = ElementType!.CreateHandle())
                {
                    return NativeMethods.LogicalTypes.CreateList(element);
                }

            case DuckDbTypeId.Map:
                using (var key = KeyType!.CreateHandle())
                using (var value = ValueType!.CreateHandle())
                {
                    return NativeMethods.LogicalTypes.CreateMap(key, value);
                }

            case DuckDbTypeId.Decimal:
                return NativeMethods.LogicalTypes.CreateDecimal(DecimalWidth, DecimalScale);

            case DuckDbTypeId.Struct:
                return CreateStructHandle();

            default:
                return NativeMethods.LogicalTypes.Create(Id);
        }
    }

    private unsafe LogicalTypeHandle CreateStructHandle()
    {
        var count = Fields.Count;
        var members = new LogicalTypeHandle[count];
        var names = new nint[count];
        try
        {
            var typePointers = stackalloc nint[count];
            var namePointers = stackalloc byte*[count];
            for (var i = 0; i < count; i++)
            {
                members[i] = Fields[i].Type.CreateHandle();
                typePointers[i] = members[i].DangerousGetHandle();
                names[i] = System.Runtime.InteropServices.Marshal.StringToCoTaskMemUTF8(Fields[i].Name);
                namePointers[i] = (byte*)names[i];
            }

            return NativeMethods.LogicalTypes.CreateStruct(typePointers, namePointers, (ulong)count);
        }
        finally
        {
            foreach (var member in members)
            {
                member?.Dispose();
            }

            foreach (var name in names)
            {
                System.Runtime.InteropServices.Marshal.FreeCoTaskMem(name);
            }
        }
    }

    public bool Equals(DuckDbLogicalType? other)
    {
        if (other is null || other.Id != Id)
        {
            return false;
        }

        return Id switch
        {
            DuckDbTypeId.List => ElementType!.Equals(other.ElementType),
            DuckDbTypeId.Map => KeyType!.Equals(other.KeyType) && ValueType!.Equals(other.ValueType),
            DuckDbTypeId.Struct => Fields.SequenceEqual(other.Fields),
            DuckDbTypeId.Decimal => DecimalWidth == other.DecimalWidth && DecimalScale == other.DecimalScale,
            _ => true,
        };
    }

    public override bool Equals(object? obj) => Equals(obj as DuckDbLogicalType);

    public override int GetHashCode() => HashCode.Combine(Id, ToString());

    /// <summary>The type as DuckDB's SQL spells it, e.g. <c>MAP(VARCHAR, BIGINT[])</c>.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        Append(sb);
        return sb.ToString();
    }

    private void Append(StringBuilder sb)
    {
        switch (Id)
        {
            case DuckDbTypeId.List:
                ElementType!.Append(sb);
                sb.Append("[]");
                break;
            case DuckDbTypeId.Map:
                sb.Append("MAP(");
                KeyType!.Append(sb);
                sb.Append(", ");
                ValueType!.Append(sb);
                sb.Append(')');
                break;
            case DuckDbTypeId.Struct:
                sb.Append("STRUCT(");
                for (var i = 0; i < Fields.Count; i++)
                {
                    if (i > 0)
                    {
                        sb.Append(", ");
                    }

                    sb.Append('"').Append(Fields[i].Name.Replace("\"", "\"\"", StringComparison.Ordinal)).Append("\" ");
                    Fields[i].Type.Append(sb);
                }

                sb.Append(')');
                break;
            case DuckDbTypeId.Decimal:
                sb.Append("DECIMAL(").Append(DecimalWidth).Append(", ").Append(DecimalScale).Append(')');
                break;
            default:
                sb.Append(SqlName(Id));
                break;
        }
    }

    private static string SqlName(DuckDbTypeId id) => id switch
    {
        DuckDbTypeId.TinyInt => "TINYINT",
        DuckDbTypeId.SmallInt => "SMALLINT",
        DuckDbTypeId.Integer => "INTEGER",
        DuckDbTypeId.BigInt => "BIGINT",
        DuckDbTypeId.UTinyInt => "UTINYINT",
        DuckDbTypeId.USmallInt => "USMALLINT",
        DuckDbTypeId.UInteger => "UINTEGER",
        DuckDbTypeId.UBigInt => "UBIGINT",
        DuckDbTypeId.HugeInt => "HUGEINT",
        DuckDbTypeId.UHugeInt => "UHUGEINT",
        DuckDbTypeId.TimestampS => "TIMESTAMP_S",
        DuckDbTypeId.TimestampMs => "TIMESTAMP_MS",
        DuckDbTypeId.TimestampNs => "TIMESTAMP_NS",
        DuckDbTypeId.TimestampTz => "TIMESTAMPTZ",
        DuckDbTypeId.TimeTz => "TIMETZ",
        DuckDbTypeId.SqlNull => "NULL",
        _ => id.ToString().ToUpperInvariant(),
    };
}
