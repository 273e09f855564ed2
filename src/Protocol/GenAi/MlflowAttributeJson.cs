using System.Globalization;
using System.Text;
using TraceStore.Protocol.Model;

namespace TraceStore.Protocol.GenAi;

/// <summary>
/// An attribute value as MLflow stores and serves it: <c>json.dumps(value, ensure_ascii=False)</c> of the decoded
/// AnyValue (mlflow-tracing.md a.2), byte for byte. That means Python's separators (<c>", "</c> and <c>": "</c>),
/// non-ASCII characters written as they are, Python's float <c>repr</c> (<c>1.0</c>, <c>1e+16</c>, <c>NaN</c>,
/// <c>Infinity</c>), <c>null</c> for an empty value. Bytes values (which Python's <c>json</c> cannot encode) are written
/// as a base64 string.
/// </summary>
public static class MlflowAttributeJson
{
    public static string Encode(SpanBatch batch, in AnyValueRecord value)
    {
        var builder = new StringBuilder();
        Append(builder, batch, value);
        return builder.ToString();
    }

    private static void Append(StringBuilder builder, SpanBatch batch, in AnyValueRecord value)
    {
        switch (value.Kind)
        {
            case AnyValueKind.String:
                AppendString(builder, batch.GetString(value.Bytes));
                break;
            case AnyValueKind.Bool:
                builder.Append(value.BoolValue ? "true" : "false");
                break;
            case AnyValueKind.Int:
                builder.Append(value.IntValue.ToString(CultureInfo.InvariantCulture));
                break;
            case AnyValueKind.Double:
                builder.Append(PythonFloat(value.DoubleValue));
                break;
            case AnyValueKind.Bytes:
                AppendString(builder, Convert.ToBase64String(batch.Bytes(value.Bytes)));
                break;
            case AnyValueKind.Array:
                builder.Append('[');
                var first = true;
                foreach (var element in batch.ArrayValues.Slice(value.Children))
                {
                    builder.Append(first ? "" : ", ");
                    first = false;
                    Append(builder, batch, element);
                }

                builder.Append(']');
                break;
            case AnyValueKind.KeyValueList:
                builder.Append('{');
                var firstEntry = true;
                foreach (var i in RepeatedKeys.Entries(batch, value.Children))
                {
                    var entry = batch.KeyValues[i];
                    builder.Append(firstEntry ? "" : ", ");
                    firstEntry = false;
                    AppendString(builder, batch.GetString(entry.Key));
                    builder.Append(": ");
                    Append(builder, batch, entry.Value);
                }

                builder.Append('}');
                break;
            default:
                builder.Append("null");
                break;
        }
    }

    /// <summary>Python's <c>json</c> string escaping with <c>ensure_ascii=False</c>.</summary>
    private static void AppendString(StringBuilder builder, string text)
    {
        builder.Append('"');
        foreach (var c in text)
        {
            switch (c)
            {
                case '"': builder.Append("\\\""); break;
                case '\\': builder.Append("\\\\"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                case '\b': builder.Append("\\b"); break;
                case '\f': builder.Append("\\f"); break;
                case < ' ': builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture)); break;
                default: builder.Append(c); break;
            }
        }

        builder.Append('"');
    }

    /// <summary>
    /// Python's <c>repr(float)</c>: the shortest digits that round-trip, in fixed notation when the decimal exponent
    /// is in [-4, 16) (with <c>.0</c> for whole numbers), else <c>d.ddde+XX</c> with at least two exponent digits.
    /// </summary>
    public static string PythonFloat(double value)
    {
        if (double.IsNaN(value))
        {
            return "NaN";
        }

        if (double.IsInfinity(value))
        {
            return value > 0 ? "Infinity" : "-Infinity";
        }

        if (value == 0)
        {
            return double.IsNegative(value) ? "-0.0" : "0.0";
        }

        // "R" gives the shortest round-trip digits; normalise them to (digits, exponent of the first digit).
        var text = Math.Abs(value).ToString("R", CultureInfo.InvariantCulture);
        var exponentAt = text.IndexOf('E', StringComparison.Ordinal);
        var mantissa = exponentAt < 0 ? text : text[..exponentAt];
        var exponent = exponentAt < 0 ? 0 : int.Parse(text.AsSpan(exponentAt + 1), CultureInfo.InvariantCulture);
        var dot = mantissa.IndexOf('.', StringComparison.Ordinal);
        var integerDigits = dot < 0 ? mantissa.Length : dot;
        var digits = mantissa.Replace(".", "", StringComparison.Ordinal);
        var leadingZeros = digits.Length - digits.TrimStart('0').Length;
        digits = digits.Trim('0');
        if (digits.Length == 0)
        {
            digits = "0";
        }

        var decimalExponent = integerDigits - 1 - leadingZeros + exponent;
        var sign = value < 0 ? "-" : "";
        if (decimalExponent is >= -4 and < 16)
        {
            if (decimalExponent < 0)
            {
                return $"{sign}0.{new string('0', -decimalExponent - 1)}{digits}";
            }

            var whole = decimalExponent + 1;
            return digits.Length <= whole
                ? $"{sign}{digits}{new string('0', whole - digits.Length)}.0"
                : $"{sign}{digits[..whole]}.{digits[whole..]}";
        }

        var fraction = digits.Length > 1 ? "." + digits[1..] : "";
        var exponentSign = decimalExponent < 0 ? "-" : "+";
        return $"{sign}{digits[0]}{fraction}e{exponentSign}{Math.Abs(decimalExponent):00}";
    }
}
