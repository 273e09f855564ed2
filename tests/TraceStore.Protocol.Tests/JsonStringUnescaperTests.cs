using System.Text;
using System.Text.Json;
using TraceStore.Protocol.Model;
using TraceStore.Protocol.Otlp.Json;

namespace TraceStore.Protocol.Tests;

/// <summary>
/// <see cref="JsonStringUnescaper"/> followed by <see cref="Utf8Validation"/> must accept exactly the strings that
/// <c>Utf8JsonReader.CopyString</c> followed by the same validation accepts, with the same bytes.
/// </summary>
public sealed class JsonStringUnescaperTests
{
    // Pieces a string token is built from: plain text, every escape, \u escapes around the surrogate ranges
    // (pairs, lone halves, halves in the wrong order), and raw bytes that are not UTF-8 on their own.
    private static readonly string[] Pieces =
    [
        "a", "text ", "é", "日本", "😀", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t",
        "\\u0000", "\\u001f", "\\u0041", "\\u00e9", "\\u00E9", "\\u07ff", "\\u0800", "\\uffff", "\\uFEFF",
        "\\ud83d", "\\ude00", "\\uD83D\\uDE00", "\\udbff\\udfff", "\\ud800\\u0041", "\\ude00\\ud83d", "\\ud83d\\ud83d",
    ];

    private static readonly byte[][] RawPieces = [[0xC3], [0xA9], [0xE6, 0x97], [0xF0, 0x9F, 0x98], [0xFF], [0xED, 0xA0, 0x80]];

    [Fact]
    public void Unescaping_then_validating_agrees_with_CopyString_on_random_strings()
    {
        var random = new Random(11);
        for (var i = 0; i < 200_000; i++)
        {
            var token = new List<byte> { (byte)'"' };
            var count = random.Next(0, 8);
            for (var p = 0; p < count; p++)
            {
                token.AddRange(random.Next(10) == 0 ? RawPieces[random.Next(RawPieces.Length)] : Encoding.UTF8.GetBytes(Pieces[random.Next(Pieces.Length)]));
            }

            token.Add((byte)'"');
            Check([.. token]);
        }
    }

    [Theory]
    [InlineData("\"\"")]
    [InlineData("\"\\ud83d\"")]
    [InlineData("\"x\\ud83d\"")]
    [InlineData("\"\\ud83d\\\"\"")]
    [InlineData("\"\\ud83d\\ude00tail\"")]
    [InlineData("\"\\u00e9\\u00e9\\n\\\\\"")]
    public void Edge_cases_agree_with_CopyString(string token) => Check(Encoding.UTF8.GetBytes(token));

    private static void Check(byte[] token)
    {
        var reader = new Utf8JsonReader(token);
        try
        {
            reader.Read();
        }
        catch (JsonException)
        {
            return; // not a string token the decoder would ever see
        }

        var expected = new byte[token.Length];
        int expectedLength;
        try
        {
            expectedLength = reader.CopyString(expected);
        }
        catch (InvalidOperationException)
        {
            expectedLength = -1;
        }

        var expectedValid = expectedLength >= 0 && Utf8Validation.IsValid(expected.AsSpan(0, expectedLength));
        var actual = new byte[token.Length];
        var actualLength = JsonStringUnescaper.Unescape(reader.ValueSpan, actual);
        var actualValid = actualLength >= 0 && Utf8Validation.IsValid(actual.AsSpan(0, actualLength));

        Assert.True(expectedValid == actualValid, $"{Convert.ToHexString(token)}: CopyString valid {expectedValid}, Unescape valid {actualValid}");
        if (expectedValid)
        {
            Assert.Equal(Convert.ToHexString(expected, 0, expectedLength), Convert.ToHexString(actual, 0, actualLength));
        }
    }
}
