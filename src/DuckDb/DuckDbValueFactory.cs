using System.Collections;
using System.Text;
using TraceStore.DuckDb.Native;

namespace TraceStore.DuckDb;

/// <summary>Builds native <c>duckdb_value</c>s for LIST parameters. Each value is created for the declared type,
/// so a CLR value that does not fit (a string in a BIGINT list) fails here with the element's position.</summary>
internal static unsafe class DuckDbValueFactory
{
    public static ValueHandle CreateList(DuckDbLogicalType elementType, IEnumerable elements)
    {
        ArgumentNullException.ThrowIfNull(elements);
        var items = new List<ValueHandle>();
        try
        {
            var position = 0;
            foreach (var element in elements)
            {
                items.Add(Create(elementType, element, position++));
            }

            var pointers = new nint[items.Count];
            for (var i = 0; i < items.Count; i++)
            {
                pointers[i] = items[i].DangerousGetHandle();
            }

            using var childType = elementType.CreateHandle();
            nint none = 0;
            fixed (nint* p = pointers)
            {
                // An empty list still needs a non-null array pointer: DuckDB returns no value for a null one.
                var list = NativeMethods.Values.CreateList(childType, p == null ? &none : p, (ulong)pointers.Length);
                if (list.IsInvalid)
                {
                    list.Dispose();
                    throw new ArgumentException($"DuckDB could not build a {elementType}[] value from the given elements.", nameof(elements));
                }

                return list;
            }
        }
        finally
        {
            foreach (var item in items)
            {
                item.Dispose();
            }
        }
    }

    /// <summary>The element type of a CLR sequence: from its generic argument, else from its first non-null element.</summary>
    public static DuckDbLogicalType InferElementType(IEnumerable elements)
    {
        var elementClr = elements.GetType().GetInterfaces()
            .FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>))
            ?.GetGenericArguments()[0];
        if (elementClr is not null && elementClr != typeof(object) && TypeOf(elementClr) is { } declared)
        {
            return declared;
        }

        foreach (var element in elements)
        {
            if (element is IEnumerable nested and not string and not byte[])
            {
                return DuckDbLogicalType.List(InferElementType(nested));
            }

            if (element is not null)
            {
                return TypeOf(element.GetType())
                    ?? throw new ArgumentException($"List elements of type {element.GetType().Name} cannot be bound.", nameof(elements));
            }
        }

        throw new ArgumentException("The element type of an empty or all-null list cannot be inferred; use BindList with an explicit element type.", nameof(elements));
    }

    private static DuckDbLogicalType? TypeOf(Type clr) => clr switch
    {
        _ when clr == typeof(long) => DuckDbLogicalType.BigInt,
        _ when clr == typeof(int) => DuckDbLogicalType.Integer,
        _ when clr == typeof(double) => DuckDbLogicalType.Double,
        _ when clr == typeof(bool) => DuckDbLogicalType.Boolean,
        _ when clr == typeof(string) => DuckDbLogicalType.Varchar,
        _ when clr == typeof(byte[]) => DuckDbLogicalType.Blob,
        _ when clr == typeof(DateTime) => DuckDbLogicalType.Timestamp,
        _ => null,
    };

    private static ValueHandle Create(DuckDbLogicalType type, object? value, int position)
    {
        if (value is null)
        {
            return NativeMethods.Values.CreateNull();
        }

        try
        {
            return type.Id switch
            {
                DuckDbTypeId.BigInt => NativeMethods.Values.CreateInt64(Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture)),
                DuckDbTypeId.Integer => NativeMethods.Values.CreateInt32(Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture)),
                DuckDbTypeId.Double => NativeMethods.Values.CreateDouble(Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture)),
                DuckDbTypeId.Boolean => NativeMethods.Values.CreateBool((bool)value ? (byte)1 : (byte)0),
                DuckDbTypeId.Varchar => CreateVarchar((string)value),
                DuckDbTypeId.Blob => CreateBlob((byte[])value),
                DuckDbTypeId.Timestamp => NativeMethods.Values.CreateTimestamp(DuckDbTime.ToUnixMicros((DateTime)value)),
                DuckDbTypeId.List => CreateList(type.ElementType!, (IEnumerable)value),
                _ => throw new ArgumentException($"List elements of type {type} cannot be bound."),
            };
        }
        catch (Exception e) when (e is InvalidCastException or FormatException or OverflowException)
        {
            throw new ArgumentException($"List element {position} ({value.GetType().Name} '{value}') is not a {type}.", nameof(value), e);
        }
    }

    private static ValueHandle CreateVarchar(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        fixed (byte* p = bytes)
        {
            return NativeMethods.Values.CreateVarcharLength(p, (ulong)bytes.Length);
        }
    }

    private static ValueHandle CreateBlob(byte[] data)
    {
        byte empty = 0;
        fixed (byte* p = data)
        {
            return NativeMethods.Values.CreateBlob(p == null ? &empty : p, (ulong)data.Length);
        }
    }
}
