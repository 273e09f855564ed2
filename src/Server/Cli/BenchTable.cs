using System.Text;
using System.Text.Json;

namespace TraceStore.Server.Cli;

/// <summary>Prints a macro benchmark's rows as an aligned table, or as a JSON array of objects for scripts. Every row
/// has the same columns; numbers are formatted by the caller for the table and kept as numbers for JSON.</summary>
internal sealed class BenchTable(params (string Name, string JsonName, int Width)[] columns)
{
    private readonly List<object[]> _rows = [];

    public void Add(params object[] values)
    {
        if (values.Length != columns.Length)
        {
            throw new ArgumentException($"A row has {columns.Length} values, not {values.Length}.", nameof(values));
        }

        _rows.Add(values);
    }

    public void Write(TextWriter output, string format)
    {
        if (format == "json")
        {
            using var stream = new MemoryStream();
            using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            {
                json.WriteStartArray();
                foreach (var row in _rows)
                {
                    json.WriteStartObject();
                    for (var i = 0; i < columns.Length; i++)
                    {
                        json.WritePropertyName(columns[i].JsonName);
                        switch (row[i])
                        {
                            case string text:
                                json.WriteStringValue(text);
                                break;
                            case double number:
                                json.WriteNumberValue(Math.Round(number, 3));
                                break;
                            case long number:
                                json.WriteNumberValue(number);
                                break;
                            case int number:
                                json.WriteNumberValue(number);
                                break;
                            default:
                                json.WriteStringValue(Convert.ToString(row[i], System.Globalization.CultureInfo.InvariantCulture));
                                break;
                        }
                    }

                    json.WriteEndObject();
                }

                json.WriteEndArray();
            }

            output.WriteLine(Encoding.UTF8.GetString(stream.ToArray()));
            return;
        }

        output.WriteLine(string.Join(' ', columns.Select(c => Pad(c.Name, c.Width))));
        foreach (var row in _rows)
        {
            output.WriteLine(string.Join(' ', row.Select((value, i) => Pad(Text(value), columns[i].Width))));
        }
    }

    private static string Text(object value) => value switch
    {
        double number when Math.Abs(number) >= 100 => number.ToString("N0", System.Globalization.CultureInfo.InvariantCulture),
        double number => number.ToString("N2", System.Globalization.CultureInfo.InvariantCulture),
        long or int => string.Format(System.Globalization.CultureInfo.InvariantCulture, "{0:N0}", value),
        _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "",
    };

    /// <summary>Negative width: left-aligned (text columns); positive: right-aligned (numbers).</summary>
    private static string Pad(string text, int width) => width < 0 ? text.PadRight(-width) : text.PadLeft(width);
}
