using FsCheck;
using FsCheck.Fluent;
using TraceStore.DuckDb;
using TraceStore.Engine.Segments;
using TraceStore.Query.Sql;
using TraceStore.Query.Tests.Compaction;
using TraceStore.Query.Text;

namespace TraceStore.Query.Tests.Text;

/// <summary><see cref="TextSearch"/> and the segments' text index (<see cref="TextIndexFormat"/>) through a real store:
/// real DuckDB, real segment files. Results are checked against <see cref="LikeReference"/> over every span's text.</summary>
public sealed class TextSearchTests
{
    private const string Experiment = "exp";

    private static readonly TextSpan[] Handmade =
    [
        new(1, 0, "Agent Run", "Paris is the capital", Inputs: "{\"question\": \"What is the CAPITAL of France?\"}", Outputs: "\"Paris\""),
        new(1, 1, "retrieve", "100% sure_thing"),
        new(2, 0, "chat", "Straße über Café", Inputs: "\"日本語のテキスト\""),
        new(3, 0, "tool call", "nothing to see", Outputs: "{\"result\": \"ÉCOLE Polytechnique\"}"),
    ];

    [Fact]
    public async Task The_index_holds_every_trigram_of_every_spans_lower_cased_text_in_its_block()
    {
        await using var fixture = new StoreFixture(o => o with { SegmentWriter = new SegmentWriterOptions { TextIndex = true } });
        await fixture.IngestAsync(TextSpans.Body(Handmade), Experiment);
        Assert.True(fixture.Store.SealAll() > 0);
        var folder = Assert.Single(fixture.Store.Catalog.Candidates(null)).Folder;
        Assert.True(TextIndexFormat.HasIndex(folder));

        using var database = DuckDbDatabase.OpenInMemory();
        using var connection = database.Connect();
        var spans = DuckDbSql.Literal(Path.Combine(folder, SegmentFormat.SpansFile));
        var payloads = DuckDbSql.Literal(Path.Combine(folder, SegmentFormat.PayloadsFile));
        var texts = Rows(connection, $"SELECT s.file_row_number, lower({TextIndexFormat.SpanTextSql("s", "p")}) FROM read_parquet({spans}, file_row_number = true) s LEFT JOIN read_parquet({payloads}) p USING (trace_id, span_id)");
        Assert.Equal(Handmade.Length, texts.Count);

        var index = new HashSet<(int Gram, int Block)>();
        foreach (var row in Rows(connection, $"SELECT gram, word, bits FROM read_parquet({TextIndexFormat.GramsPath(folder)})"))
        {
            for (var bit = 0; bit < 64; bit++)
            {
                if ((((ulong)row[2]! >> bit) & 1) != 0)
                {
                    index.Add(((int)row[0]!, ((short)row[1]! * 64) + bit));
                }
            }
        }

        foreach (var text in texts)
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes((string)text[1]!);
            var block = (int)((long)text[0]! / TextIndexFormat.BlockSpans);
            for (var i = 0; i + 2 < bytes.Length; i++)
            {
                Assert.Contains((TextIndexFormat.Gram(bytes[i], bytes[i + 1], bytes[i + 2]), block), index);
            }
        }

        // Lower-cased: "ÉCOLE" is indexed as "école", and no gram holds an upper-case ASCII letter.
        var e = System.Text.Encoding.UTF8.GetBytes("éco");
        Assert.Contains((TextIndexFormat.Gram(e[0], e[1], e[2]), 0), index);
        Assert.DoesNotContain(index, g => Enumerable.Range(0, 3).Any(k => (g.Gram >> (8 * k) & 0xFF) is >= 'A' and <= 'Z'));

        var blocks = Assert.Single(Rows(connection, $"SELECT block, first_span_row, last_span_row, first_payload_row, last_payload_row FROM read_parquet({TextIndexFormat.BlocksPath(folder)})"));
        Assert.Equal([0, 0L, 3L, 0L, 2L], blocks);
    }

    [Theory]
    [InlineData("%capital%", true, null, new[] { "1/0" })]
    [InlineData("%CAPITAL%", false, null, new[] { "1/0" })]
    [InlineData("%capital of%", false, null, new string[0])]
    [InlineData("%capital of%", true, null, new[] { "1/0" })]
    [InlineData("%100!%%", false, '!', new[] { "1/1" })]
    [InlineData("%sure!_t%", false, '!', new[] { "1/1" })]
    [InlineData("%straße%", true, null, new[] { "2/0" })]
    [InlineData("%ÜBER%", true, null, new[] { "2/0" })]
    [InlineData("%über%", false, null, new[] { "2/0" })]
    [InlineData("%本語の%", false, null, new[] { "2/0" })]
    [InlineData("%école p%", true, null, new[] { "3/0" })]
    [InlineData("%école p%", false, null, new string[0])]
    [InlineData("%\"paris\"%", true, null, new[] { "1/0" })]
    [InlineData("%ca_it%", true, null, new[] { "1/0" })]
    [InlineData("%zzz%", true, null, new string[0])]
    public async Task Handmade_patterns_match_the_spans_whose_text_matches(string pattern, bool ignoreCase, char? escape, string[] expected)
    {
        foreach (var indexed in new[] { true, false })
        {
            await using var fixture = new StoreFixture(o => o with { SegmentWriter = new SegmentWriterOptions { TextIndex = indexed } });
            await fixture.IngestAsync(TextSpans.Body(Handmade), Experiment);
            Assert.True(fixture.Store.SealAll() > 0);
            using var session = TraceQuerySession.Open(fixture.Store);

            var result = new TextSearch(session).Search(Experiment, pattern, ignoreCase, escape);

            Assert.Equal(expected.Select(Span).Order(), result.Spans.Order());
            var usable = LikePattern.Parse(pattern, escape).IndexableRuns.Any();
            Assert.Equal(indexed && usable ? 1 : 0, result.Stats.IndexedSegments);
            Assert.Equal(indexed && usable ? 0 : 1, result.Stats.ScannedSegments);
        }
    }

    /// <summary>Random texts (ASCII letters of both cases, non-ASCII letters, wildcard characters, quotes, backslashes)
    /// in names, attributes, inputs and outputs, over several sealed segments (with and without the index, some
    /// merged by compaction) and hot spans, some traces deleted; random patterns, most cut from the texts with
    /// wildcards and case flips put in, some escaped. Every search gives exactly the spans the reference matches.</summary>
    [Fact]
    public void Any_pattern_finds_exactly_the_spans_a_brute_force_like_finds()
    {
        var alphabet = "abcABCxyzXYZ éÉüÜßΩω日本%_\"\\".ToCharArray();
        var words = from n in Gen.Choose(0, 12) from c in Gen.ArrayOf(Gen.Elements(alphabet), n) select new string(c);
        var patterns = from n in Gen.Choose(0, 6) from c in Gen.ArrayOf(Gen.Elements(alphabet), n) select new string(c);
        var cases =
            from texts in Gen.ArrayOf(words, 40)
            from picks in Gen.ArrayOf(patterns, 12)
            from seed in Gen.Choose(0, int.MaxValue)
            select new SearchCase(texts, picks, seed);
        Check.One(
            Config.QuickThrowOnFailure.WithMaxTest(6),
            Prop.ForAll(Arb.From(cases), c => c.Run().GetAwaiter().GetResult()));
    }

    [Fact]
    public async Task Segments_without_the_index_and_merged_segments_give_the_same_results()
    {
        await using var fixture = new StoreFixture(o => o with { SegmentWriter = new SegmentWriterOptions { TextIndex = false } });
        await fixture.IngestAsync(TextSpans.Body(Handmade.Take(2)), Experiment);
        Assert.True(fixture.Store.SealAll() > 0);
        await fixture.ReopenAsync(o => o with { SegmentWriter = new SegmentWriterOptions { TextIndex = true } });
        await fixture.IngestAsync(TextSpans.Body(Handmade.Skip(2)), Experiment);
        Assert.True(fixture.Store.SealAll() > 0);
        var segments = fixture.Store.Catalog.Candidates(null);
        Assert.Equal([false, true], segments.Select(s => TextIndexFormat.HasIndex(s.Folder)));

        string[] patterns = ["%o%", "%capital%", "%über%", "%ecole%", "%ÉCOLE%"];
        List<List<TextMatch>> Search(out TextSearchStats last)
        {
            using var session = TraceQuerySession.Open(fixture.Store);
            var search = new TextSearch(session);
            var results = new List<List<TextMatch>>();
            TextSearchStats? stats = null;
            foreach (var pattern in patterns)
            {
                var result = search.Search(Experiment, pattern, ignoreCase: true);
                results.Add([.. result.Spans]);
                stats = result.Stats;
            }

            last = stats!;
            return results;
        }

        var before = Search(out _);
        Assert.Equal([[Span("1/0"), Span("1/1"), Span("2/0"), Span("3/0")], [Span("1/0")], [Span("2/0")], [], [Span("3/0")]], before);

        fixture.Store.CompactNow();
        var merged = Assert.Single(fixture.Store.Catalog.Candidates(null));
        Assert.True(TextIndexFormat.HasIndex(merged.Folder));
        Assert.Equal(before, Search(out var stats));
        Assert.Equal(0, stats.ScannedSegments);
        Assert.Equal(1, stats.IndexedSegments);
    }

    /// <summary>A segment of many blocks: a word in a few spans makes a few candidate blocks, whose rows (spans and
    /// payloads, read as row ranges) are the only ones verified, and the result is the scan's.</summary>
    [Fact]
    public async Task Candidate_blocks_are_verified_alone_and_give_what_a_scan_gives()
    {
        static string Word(int i) => new([.. $"{i:D4}".Select(c => (char)('k' + c - '0'))]);
        var spans = Enumerable.Range(0, 400).Select(i => new TextSpan(
            (i / 4) + 1, i % 4, $"step {Word(i)}", i % 97 == 5 ? "a rare needle here" : "common words", Inputs: i % 3 == 0 ? $"\"input {Word(i)} of {Word(i + 1)}\"" : null)).ToList();
        await using var fixture = new StoreFixture(o => o with { SegmentWriter = new SegmentWriterOptions { TextIndex = true } });
        await fixture.IngestAsync(TextSpans.Body(spans), Experiment);
        Assert.True(fixture.Store.SealAll() > 0);
        using var session = TraceQuerySession.Open(fixture.Store);
        var indexed = new TextSearch(session);
        var scan = new TextSearch(session) { UseIndex = false };

        foreach (var (pattern, expected) in new[]
        {
            ("%needle%", spans.Where((_, i) => i % 97 == 5).ToList()),
            ($"%input {Word(33)}%", [spans[33]]),
            ($"%of {Word(61)}%", [spans[60]]),
            ($"%{Word(7)}%", spans.Where((_, i) => i == 7 || (i == 6 && i % 3 == 0)).ToList()),
        })
        {
            var result = indexed.Search(Experiment, pattern, ignoreCase: false);
            Assert.Equal(expected.Select(s => new TextMatch(TextSpans.Id(s.Trace), TextSpans.SpanHex(s.Trace, s.Span))).Order(), result.Spans);
            Assert.Equal(scan.Search(Experiment, pattern, ignoreCase: false).Spans, result.Spans);
            Assert.True(result.Stats.CandidateBlocks < result.Stats.Blocks / 2, $"{pattern}: {result.Stats}");
        }

        // Every block holds the folded grams of "Step", so every span is verified, and LIKE rules them all out.
        Assert.Empty(indexed.Search(Experiment, "%Step%", ignoreCase: false).Spans);
        Assert.Equal(400, indexed.Search(Experiment, "%Step%", ignoreCase: true).Spans.Count);
    }

    [Fact]
    public async Task Deleted_traces_are_left_out_and_hot_spans_are_found()
    {
        await using var fixture = new StoreFixture(o => o with { SegmentWriter = new SegmentWriterOptions { TextIndex = true } });
        await fixture.IngestAsync(TextSpans.Body(Handmade), Experiment);
        Assert.True(fixture.Store.SealAll() > 0);
        await fixture.IngestAsync(TextSpans.Body([new TextSpan(9, 0, "late", "the capital again")]), Experiment);
        await fixture.IngestAsync(TextSpans.Body([new TextSpan(8, 0, "other", "capital elsewhere")]), "other-experiment");
        Assert.Equal(1, fixture.WithMutations(m => m.DeleteTraces(Experiment, [TextSpans.Id(1)])));
        using var session = TraceQuerySession.Open(fixture.Store);

        var result = new TextSearch(session).Search(Experiment, "%capital%", ignoreCase: true);

        Assert.Equal([Span("9/0")], result.Spans);
        Assert.Equal([TextSpans.Id(9)], result.TraceIds);
        Assert.Equal([Span("8/0"), Span("9/0")], new TextSearch(session).Search(null, "%capital%", ignoreCase: true).Spans.Order());
    }

    [Fact]
    public void Literal_runs_follow_wildcards_and_the_escape_character()
    {
        Assert.Equal(["abc", "de"], LikePattern.Parse("%abc_de%").LiteralRuns);
        Assert.Equal(["ab%c", "d"], LikePattern.Parse("ab!%c%d", '!').LiteralRuns);
        Assert.Equal(["abc"], LikePattern.Parse("ab!%c%d", null).IndexableRuns.Take(0).Concat(LikePattern.Parse("%abc%de").IndexableRuns));
        Assert.Throws<ArgumentException>(() => LikePattern.Parse("ab!", '!'));
    }

    internal static TextMatch Span(string traceSlashSpan)
    {
        var parts = traceSlashSpan.Split('/');
        var (trace, span) = (int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
        return new TextMatch(TextSpans.Id(trace), TextSpans.SpanHex(trace, span));
    }

    internal static List<object?[]> Rows(DuckDbConnection connection, string sql)
    {
        using var result = connection.Query(sql);
        return result.ReadAllRows();
    }
}
