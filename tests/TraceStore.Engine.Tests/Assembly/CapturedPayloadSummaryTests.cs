using System.Buffers;
using System.Text.Json;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Traces;
using TraceStore.Protocol.Content;
using TraceStore.Protocol.Model;
using TraceStore.Protocol.Otlp;
using TraceStore.Testing;

namespace TraceStore.Engine.Tests.Assembly;

/// <summary>Summaries of the traces captured from real clients (../shared/testdata/otlp) against the manifest.</summary>
public sealed class CapturedPayloadSummaryTests
{
    public static TheoryData<string> Files => TestPayloads.Names();

    [Theory]
    [MemberData(nameof(Files))]
    public void Every_single_file_trace_summary_matches_the_manifest(string name)
    {
        var file = TestPayloads.Get(name);
        var buffers = Assemble(file);
        var expectations = ManifestTraces();
        var checkedTraces = 0;
        foreach (var (traceHex, buffer) in buffers)
        {
            var expected = expectations[traceHex];
            if (expected.Files.Length != 1)
            {
                continue;
            }

            var summary = TraceSummaryBuilder.Build(buffer);
            var usage = summary.TokenUsage is { } u ? (u.InputTokens, u.OutputTokens, u.TotalTokens) : ((long, long, long)?)null;
            Assert.True(expected.Usage == usage, $"{traceHex}: token usage {usage} but the manifest expects {expected.Usage}");
            Assert.Equal(expected.SpanCount, summary.SpanCount);
            Assert.Equal(file.SpansPerTrace[traceHex], summary.SpanCount);
            Assert.Equal("tr-" + traceHex, summary.TraceId);
            if (file.RootTraces.Contains(traceHex))
            {
                Assert.Equal(expected.RootName, summary.TraceName);
                Assert.Equal(expected.RootName, summary.Tags[TraceInfoKeys.TraceNameTag]);
                Assert.Equal(expected.RootStatus == "ERROR" ? TraceState.Error : TraceState.Ok, summary.State);
            }
            else
            {
                Assert.Equal(TraceState.InProgress, summary.State);
                Assert.Null(summary.TraceName);
            }

            Assert.Equal(file.ErrorSpans.Count(e => e.TraceId == traceHex), summary.ErrorSpanCount);
            Assert.All(summary.ServiceNames, service => Assert.Contains(service, file.ServiceNames));
            checkedTraces++;
        }

        Assert.True(checkedTraces > 0, "the file holds at least one single-file trace");
    }

    private static Dictionary<string, TraceBuffer> Assemble(PayloadFile file)
    {
        using var decoder = new OtlpRequestDecoder();
        var batch = new SpanBatch();
        var format = file.Format == "json" ? OtlpPayloadFormat.Json : OtlpPayloadFormat.Protobuf;
        decoder.Decode(new ReadOnlySequence<byte>(file.RawBytes), format, OtlpContentHeaders.ParseEncoding(file.ContentEncoding), batch);
        var buffers = new Dictionary<string, TraceBuffer>();
        foreach (ref readonly var span in batch.Spans.AsSpan())
        {
            var hex = span.TraceId.ToHex();
            if (!buffers.TryGetValue(hex, out var buffer))
            {
                buffers[hex] = buffer = new TraceBuffer(new TraceKey("1", span.TraceId), nowTicks: 0);
            }

            SpanCopier.Copy(batch, span, buffer, walSequence: 1, nowTicks: 0);
        }

        return buffers;
    }

    private sealed record ExpectedTrace(string[] Files, int SpanCount, string RootName, string RootStatus, (long, long, long)? Usage);

    /// <summary>The manifest's per-trace facts: files, span count, root span name and status, expected token usage.</summary>
    private static Dictionary<string, ExpectedTrace> ManifestTraces()
    {
        using var manifest = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(TestPayloads.Folder, "manifest.json")));
        var traces = new Dictionary<string, ExpectedTrace>();
        foreach (var trace in manifest.RootElement.GetProperty("traces").EnumerateObject())
        {
            var value = trace.Value;
            traces[trace.Name] = new ExpectedTrace(
                value.GetProperty("files").EnumerateArray().Select(f => f.GetString()!).ToArray(),
                value.GetProperty("expected_span_count").GetInt32(),
                value.GetProperty("root_span_name").GetString()!,
                value.GetProperty("root_span_status").GetString()!,
                TestPayloads.Traces[trace.Name].Usage);
        }

        return traces;
    }
}
