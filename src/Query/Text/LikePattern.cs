using System.Text;

namespace TraceStore.Query.Text;

/// <summary>
/// A SQL LIKE pattern as the text index sees it: its literal runs, the characters between wildcards (<c>%</c> any
/// sequence, <c>_</c> one character). With an escape character, escape + c is the literal c (as DuckDB's
/// <c>LIKE p ESCAPE e</c>); without one, every other character is literal (DuckDB's and SQLite's default, which MLflow's
/// SQL store relies on). A text matching the pattern contains every literal run, so every trigram of every run.
/// </summary>
public sealed class LikePattern
{
    private LikePattern(string pattern, char? escape, IReadOnlyList<string> runs)
    {
        Pattern = pattern;
        Escape = escape;
        LiteralRuns = runs;
    }

    public string Pattern { get; }

    public char? Escape { get; }

    /// <summary>The maximal runs of literal characters, in order (empty runs left out).</summary>
    public IReadOnlyList<string> LiteralRuns { get; }

    /// <summary>The runs of at least three UTF-8 bytes, the only ones a trigram index can use.</summary>
    public IEnumerable<string> IndexableRuns => LiteralRuns.Where(r => Encoding.UTF8.GetByteCount(r) >= 3);

    public static LikePattern Parse(string pattern, char? escape = null)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        if (escape is '%' or '_')
        {
            throw new ArgumentException("The escape character cannot be a wildcard.", nameof(escape));
        }

        var runs = new List<string>();
        var run = new StringBuilder();
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (escape == c)
            {
                if (i + 1 == pattern.Length)
                {
                    throw new ArgumentException("A LIKE pattern cannot end with its escape character.", nameof(pattern));
                }

                run.Append(pattern[++i]);
            }
            else if (c is '%' or '_')
            {
                Flush();
            }
            else
            {
                run.Append(c);
            }
        }

        Flush();
        return new LikePattern(pattern, escape, runs);

        void Flush()
        {
            if (run.Length > 0)
            {
                runs.Add(run.ToString());
                run.Clear();
            }
        }
    }
}
