using System.Globalization;
using System.Text.Json;
using TraceStore.Engine;
using TraceStore.Engine.Compaction;
using TraceStore.Engine.Segments;
using TraceStore.Engine.Traces;
using TraceStore.Engine.Wal;
using TraceStore.OtlpOracle;
using TraceStore.Query.Traces;
using TraceStore.Testing;
using Xunit.Abstractions;

namespace TraceStore.Query.Tests.Recovery;

/// <summary>
/// The crash windows of sealing (docs/segments.md, "Crash windows"), hit with real SIGKILLs: a child process
/// (<c>tests/TraceStore.CrashHarness</c>) ingests a workload whose traces arrive across requests (late spans, roots
/// after their children, resends, traces sealed in parts), sealing every few milliseconds; the sealer's crash point
/// hook stops it at the chosen point of the chosen seal, the test kills it there, looks at what is on disk, opens the
/// store (recovery), seals everything, and checks that every span of every acknowledged request reads back exactly
/// once, that summaries count each span once, and that no segment holds a row twice.
/// </summary>
[Collection(ChildProcessTests.Name)]
public sealed class SealCrashWindowTests(ITestOutputHelper output)
{
    private const int Producers = 2;

    /// <summary>Traces read back through the reader per crash (all of them are checked in the files).</summary>
    private const int ReadSample = 60;
    private static readonly TimeSpan CrashPointTimeout = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(SealerCrashPoints.SegmentWritten)]
    [InlineData(SealerCrashPoints.CatalogCommitted)]
    [InlineData(SealerCrashPoints.Checkpointed)]
    public async Task Sigkill_in_the_window_loses_nothing_and_reads_every_acknowledged_span_once(string crashPoint)
    {
        var random = new Random(20261121 + crashPoint.Length);
        var windowsWithMergedTraces = 0;
        for (var iteration = 0; iteration < CrashWorkload.All.Count; iteration++)
        {
            var workload = CrashWorkload.All[iteration];
            using var folder = new TempDirectory("seal-crash");
            var occurrence = random.Next(2, 5);
            var firstId = (iteration + 1) * 1_000_000L;
            string[] arguments =
            [
                folder.Path, firstId.ToString(CultureInfo.InvariantCulture), Producers.ToString(CultureInfo.InvariantCulture),
                random.Next().ToString(CultureInfo.InvariantCulture), workload, crashPoint, occurrence.ToString(CultureInfo.InvariantCulture),
            ];
            var run = await CrashHarnessProcess.RunAndKillAtCrashPointAsync(arguments, CrashPointTimeout);
            Assert.Equal(crashPoint, run.CrashPoint);

            var (committed, uncommitted, _) = SegmentsOnDisk.Inspect(folder.Path);
            var windowSegment = CheckWindow(crashPoint, folder.Path, committed, uncommitted);
            var windowSpans = SegmentsOnDisk.Spans(windowSegment);
            var earlier = SegmentsOnDisk.Traces([.. committed.Where(s => s.Folder != windowSegment)]);
            var merged = windowSpans.Select(s => s.TraceId).Distinct().Count(earlier.ContainsKey);
            windowsWithMergedTraces += merged > 0 ? 1 : 0;

            var checkedSpans = await RecoverAndCheck(folder.Path, workload, run.Acknowledged, windowSpans, uncommitted, random);
            output.WriteLine(
                $"{workload}: stopped at {crashPoint} #{occurrence}; {run.Acknowledged.Count} requests acknowledged; {committed.Count} segments committed, " +
                $"{uncommitted.Count} uncommitted; the window's segment holds {windowSpans.Count} spans of {windowSpans.Select(s => s.TraceId).Distinct().Count()} traces " +
                $"({merged} of them with parts sealed before); after recovery {checkedSpans} acknowledged spans read back once");
        }

        // The late-span workloads exist to have the sealer merge with sealed parts inside the window.
        Assert.True(windowsWithMergedTraces > 0, "no crash hit a segment that merged late spans with sealed parts");
    }

    /// <summary>What the window must have left on disk; returns the folder of the segment the crash interrupted.</summary>
    private static string CheckWindow(string crashPoint, string dataFolder, IReadOnlyList<SegmentInfo> committed, IReadOnlyList<string> uncommitted)
    {
        if (crashPoint == SealerCrashPoints.SegmentWritten)
        {
            // The folder is renamed into place and whole, but the catalog has no row for it: recovery deletes it.
            var orphan = Assert.Single(uncommitted);
            Assert.Equal(SegmentFormat.FolderName(committed.Count == 0 ? 1 : committed[^1].SealSequence + 1), orphan);
            return Path.Combine(dataFolder, "segments", orphan);
        }

        // Committed (with or without the checkpoint after it): the newest segment is the one the crash interrupted.
        Assert.Empty(uncommitted);
        Assert.NotEmpty(committed);
        return committed[^1].Folder;
    }

    /// <summary>
    /// Opens the store (recovery: uncommitted folders removed, the WAL replayed from the catalog's position), seals
    /// everything, and checks every acknowledged trace in the files (each span once, the latest summary counting each
    /// once) and a sample of them, the interrupted segment's traces first, through <see cref="TraceReader"/> and
    /// <see cref="GetTraceJson"/>. Returns the acknowledged spans checked.
    /// </summary>
    private static async Task<int> RecoverAndCheck(string dataFolder, string workload, IReadOnlyList<long> acknowledged, List<(string TraceId, string SpanId)> windowSpans, IReadOnlyList<string> uncommitted, Random random)
    {
        // A sealer that never runs by itself: only SealAll writes, so what the open left can be looked at first. No
        // background compaction: a merge between listing the segments and reading the trace index (30 s after the
        // open, which a loaded machine reaches) would make the two disagree ("in segments 4, indexed in 5").
        var options = new TraceStoreOptions
        {
            DataDirectory = dataFolder,
            Wal = new WalOptions { SegmentBytes = 1 << 20 },
            Sealer = new SealerOptions { Interval = TimeSpan.FromHours(1) },
            Compaction = new CompactionOptions { RunInBackground = false },
        };
        await using var store = Engine.TraceStore.Open(options);
        foreach (var name in uncommitted)
        {
            Assert.False(Directory.Exists(Path.Combine(dataFolder, "segments", name)), $"{name} has no catalog row and should have been removed at open");
        }

        store.SealAll();
        var committed = store.Catalog.Segments();
        var duplicated = SegmentsOnDisk.DuplicatedRows(committed);
        Assert.True(duplicated.Count == 0, "rows stored twice in one segment:\n" + string.Join("\n", duplicated));

        var files = SegmentsOnDisk.Traces(committed);
        var expected = ExpectedSpans(workload, acknowledged);
        var spansChecked = 0;
        foreach (var (traceId, spans) in expected)
        {
            Assert.True(files.TryGetValue(traceId, out var stored), $"{traceId}: acknowledged, not found after recovery");
            var byId = stored.Spans.GroupBy(s => s.SpanId).ToDictionary(g => g.Key, g => g.ToList());
            Assert.True(byId.Values.All(g => g.Count == 1), $"{traceId}: copies of a span differ");
            foreach (var (spanId, name) in spans)
            {
                Assert.True(byId.TryGetValue(spanId, out var copies), $"{traceId}: acknowledged span {spanId} ({name}) lost");
                Assert.Equal(name, copies[0].Name);
            }

            var root = stored.Spans.SingleOrDefault(s => s.IsRoot);
            var expectedSummary = new FileSummary(stored.Spans.Count, stored.Spans.Count(s => s.Status == "ERROR"), root is null ? "IN_PROGRESS" : root.Status == "ERROR" ? "ERROR" : "OK", root?.Name);
            Assert.True(expectedSummary == stored.Summary, $"{traceId}: latest summary {stored.Summary}, spans stored say {expectedSummary}");

            // The catalog's trace index (what get-by-id opens) names exactly the segments that hold the trace.
            var indexed = store.Catalog.SegmentsHolding(traceId).Select(s => s.SealSequence);
            Assert.True(stored.Segments.SetEquals(indexed), $"{traceId}: in segments {string.Join(",", stored.Segments)}, indexed in {string.Join(",", indexed)}");
            spansChecked += spans.Count;
        }

        // Whatever the interrupted segment held (acknowledged or not yet reported) came back from the WAL.
        foreach (var (traceId, spanId) in windowSpans)
        {
            Assert.True(files.TryGetValue(traceId, out var trace) && trace.Spans.Any(s => s.SpanId == spanId), $"{traceId}/{spanId} of the interrupted segment is gone");
        }

        // Reads: the interrupted segment's traces and others, at most ReadSample of them (a get costs a few queries).
        var windowTraces = windowSpans.Select(s => s.TraceId).Distinct().OrderBy(_ => random.Next()).Take(ReadSample / 2);
        var sample = windowTraces.Concat(expected.Keys.OrderBy(_ => random.Next())).Distinct().Take(ReadSample);
        using var reader = new TraceReader(store.Catalog);
        foreach (var traceId in sample)
        {
            var trace = reader.Get(traceId);
            Assert.True(trace is not null, $"{traceId}: in the files, not found by the reader");
            Assert.Equal(files[traceId].Spans.Select(s => s.SpanId).Order(StringComparer.Ordinal), trace.Spans.Select(s => s.SpanId).Order(StringComparer.Ordinal));
            CheckSummary(trace);
        }

        return spansChecked;
    }

    /// <summary>The summary the reader gives covers the trace's spans as read: each counted once, the state and name
    /// from the root when it is there, the errors counted, and the GetTrace body carries the same spans.</summary>
    private static void CheckSummary(StoredTrace trace)
    {
        var id = trace.Summary.TraceId;
        Assert.True(trace.Summary.SpanCount == trace.Spans.Count, $"{id}: summary counts {trace.Summary.SpanCount} spans, {trace.Spans.Count} read");
        Assert.Equal(trace.Spans.Count(s => s.Status == "ERROR"), trace.Summary.ErrorSpanCount);
        var root = trace.Spans.SingleOrDefault(s => s.ParentSpanId is null);
        Assert.True(
            root is null ? trace.Summary.State == TraceState.InProgress : trace.Summary.State == (root.Status == "ERROR" ? TraceState.Error : TraceState.Ok),
            $"{id}: state {trace.Summary.State} with root {root?.Status ?? "absent"}");
        Assert.Equal(root?.Name, trace.Summary.TraceName);
        Assert.Equal(MlflowTime.NanosToMillis((ulong)trace.Spans.Min(s => s.StartTimeNs)), trace.Summary.RequestTimeMs);
        using var json = JsonDocument.Parse(GetTraceJson.ToJson(trace));
        Assert.Equal(trace.Spans.Count, json.RootElement.GetProperty("trace").GetProperty("spans").GetArrayLength());
    }

    /// <summary>Span id → name of every span the acknowledged requests carried, by trace.</summary>
    private static Dictionary<string, Dictionary<string, string>> ExpectedSpans(string workload, IReadOnlyList<long> acknowledged)
    {
        var traces = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        foreach (var request in acknowledged)
        {
            foreach (var span in CrashWorkload.Spans(workload, request))
            {
                var traceId = CrashWorkload.TraceId(span.Trace);
                (traces.TryGetValue(traceId, out var spans) ? spans : traces[traceId] = new(StringComparer.Ordinal))[CrashWorkload.SpanIdHex(span.SpanId)] = span.Name;
            }
        }

        return traces;
    }
}
