using System.Globalization;
using System.Text;

namespace TraceStore.Query.Tests.Text;

/// <summary>A brute-force LIKE/ILIKE, independent of DuckDB and of the index: matches a pattern against a text by
/// dynamic programming over Unicode scalar values (<c>%</c> any run, <c>_</c> one character, escape + c the literal c).
/// ILIKE compares lower-cased characters (invariant culture), which agrees with DuckDB's <c>lower</c> on the
/// characters the tests generate.</summary>
internal static class LikeReference
{
    public static bool Matches(string text, string pattern, bool ignoreCase, char? escape)
    {
        var t = Runes(text, ignoreCase);
        var tokens = new List<(Rune? Literal, bool Any)>();
        var p = pattern.EnumerateRunes().ToList();
        for (var i = 0; i < p.Count; i++)
        {
            if (escape is { } e && p[i].Value == e)
            {
                tokens.Add((Fold(p[++i], ignoreCase), false));
            }
            else if (p[i].Value == '%')
            {
                tokens.Add((null, true));
            }
            else if (p[i].Value == '_')
            {
                tokens.Add((null, false));
            }
            else
            {
                tokens.Add((Fold(p[i], ignoreCase), false));
            }
        }

        // can[j]: the first i characters of the text match the first j tokens.
        var can = new bool[tokens.Count + 1];
        can[0] = true;
        for (var j = 0; j < tokens.Count && tokens[j].Any; j++)
        {
            can[j + 1] = true;
        }

        foreach (var c in t)
        {
            var next = new bool[tokens.Count + 1];
            for (var j = 0; j < tokens.Count; j++)
            {
                var (literal, any) = tokens[j];
                if (any)
                {
                    next[j + 1] |= can[j + 1] || can[j];
                }
                else if (can[j] && (literal is null || literal.Value == c))
                {
                    next[j + 1] = true;
                }
            }

            // A leading run of % tokens matches the empty prefix too.
            for (var j = 0; j < tokens.Count; j++)
            {
                if (tokens[j].Any && next[j])
                {
                    next[j + 1] = true;
                }
            }

            can = next;
        }

        return can[tokens.Count];
    }

    private static List<Rune> Runes(string text, bool ignoreCase) => [.. text.EnumerateRunes().Select(r => Fold(r, ignoreCase))];

    private static Rune Fold(Rune r, bool ignoreCase) => ignoreCase ? Rune.ToLower(r, CultureInfo.InvariantCulture) : r;
}
