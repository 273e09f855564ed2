using System.Text;
using TraceStore.Engine.Segments;
using TraceStore.Query.Sql;
using TraceStore.Query.Tests.Compaction;
using TraceStore.Query.Text;

namespace TraceStore.Query.Tests.Text;

/// <summary>One case of the search property: 40 random texts make 10 spans of 5 traces (name, note, inputs,
/// outputs); traces 1-2 are sealed into a segment, 3-4 into another (the index on for one of them), the seed decides
/// which, and whether the two are merged by compaction and trace 1 deleted; trace 5 stays unsealed unless the
/// background sealer takes it. Each pattern's search must give exactly the spans <see cref="LikeReference"/> matches
/// over every live span's text.</summary>
internal sealed record SearchCase(string[] Texts, string[] Picks, int Seed)
{
    private const string Experiment = "exp";

    public override string ToString() => $"seed {Seed}, texts [{string.Join(" | ", Texts)}], picks [{string.Join(" | ", Picks)}]";

    public async Task Run()
    {
        var random = new Random(Seed);
        var spans = Enumerable.Range(0, 10).Select(i => new TextSpan(
            (i / 2) + 1, i % 2, Texts[4 * i], Texts[(4 * i) + 1], Texts[(4 * i) + 2].Length == 0 ? null : Texts[(4 * i) + 2], Texts[(4 * i) + 3].Length == 0 ? null : Texts[(4 * i) + 3])).ToList();
        var firstIndexed = (Seed & 1) == 0;
        await using var fixture = new StoreFixture(o => o with { SegmentWriter = new SegmentWriterOptions { TextIndex = firstIndexed } });
        await fixture.IngestAsync(TextSpans.Body(spans.Where(s => s.Trace <= 2)), Experiment);
        Assert.True(fixture.Store.SealAll() > 0);
        await fixture.ReopenAsync(o => o with { SegmentWriter = new SegmentWriterOptions { TextIndex = !firstIndexed } });
        await fixture.IngestAsync(TextSpans.Body(spans.Where(s => s.Trace is 3 or 4)), Experiment);
        Assert.True(fixture.Store.SealAll() > 0);
        if ((Seed & 2) != 0)
        {
            fixture.Store.CompactNow();
        }

        await fixture.IngestAsync(TextSpans.Body(spans.Where(s => s.Trace == 5)), Experiment);
        if ((Seed & 4) != 0)
        {
            Assert.Equal(1, fixture.WithMutations(m => m.DeleteTraces(Experiment, [TextSpans.Id(1)])));
        }

        using var session = TraceQuerySession.Open(fixture.Store);
        session.Refresh(Experiment);
        var texts = session.Query($"SELECT DISTINCT s.trace_id, s.span_id, {TextIndexFormat.SpanTextSql("s", "p")} FROM spans s LEFT JOIN payloads p USING (trace_id, span_id)")
            .Select(r => (Match: new TextMatch((string)r[0]!, (string)r[1]!), Text: (string)r[2]!)).ToList();
        Assert.Equal((Seed & 4) != 0 ? 8 : 10, texts.Count);

        var search = new TextSearch(session);
        foreach (var pick in Picks)
        {
            var (pattern, escape) = Pattern(random, pick, texts[random.Next(texts.Count)].Text);
            var ignoreCase = random.Next(2) == 0;
            var expected = texts.Where(t => LikeReference.Matches(t.Text, pattern, ignoreCase, escape)).Select(t => t.Match).Order().ToList();

            var result = search.Search(Experiment, pattern, ignoreCase, escape);

            Assert.True(
                expected.SequenceEqual(result.Spans),
                $"{(ignoreCase ? "ILIKE" : "LIKE")} '{pattern}' escape '{escape}': expected [{string.Join(", ", expected)}], got [{string.Join(", ", result.Spans)}]");
        }
    }

    /// <summary>Half the time a piece of a span's text (so it matches something) with case flips and a '_', wrapped
    /// in '%', its wildcard characters escaped with '\' (or left as wildcards); else the random pick itself.</summary>
    private static (string Pattern, char? Escape) Pattern(Random random, string pick, string text)
    {
        if (random.Next(2) == 0 || text.Length < 3)
        {
            return (random.Next(2) == 0 ? pick : $"%{pick}%", null);
        }

        var start = random.Next(text.Length - 2);
        var piece = text.Substring(start, Math.Min(text.Length - start, random.Next(3, 10))).ToCharArray();
        for (var i = 0; i < piece.Length; i++)
        {
            if (random.Next(4) == 0)
            {
                piece[i] = char.IsUpper(piece[i]) ? char.ToLowerInvariant(piece[i]) : char.ToUpperInvariant(piece[i]);
            }
        }

        var wildcardAt = piece.Length > 3 && random.Next(3) == 0 ? 1 : -1;
        if (wildcardAt > 0)
        {
            piece[wildcardAt] = '_';
        }

        var escaped = random.Next(2) == 0;
        var body = new StringBuilder();
        for (var i = 0; i < piece.Length; i++)
        {
            if (escaped && (piece[i] is '%' or '\\' || (piece[i] == '_' && i != wildcardAt)))
            {
                body.Append('\\');
            }

            body.Append(piece[i]);
        }

        return ($"%{body}%", escaped ? '\\' : null);
    }
}
