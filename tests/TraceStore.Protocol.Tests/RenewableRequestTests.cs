using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using TraceStore.OtlpOracle;

namespace TraceStore.Protocol.Tests;

/// <summary>The load harnesses' renewable request (tests/TraceStore.OtlpOracle): a renewal changes every valid id and
/// nothing else, keeps parent references on their spans, and never repeats an id.</summary>
public sealed class RenewableRequestTests
{
    [Theory]
    [InlineData(OtlpBenchmarkPayloads.Small, 10)]
    [InlineData(OtlpBenchmarkPayloads.GenAi, 1)]
    public void Renewal_changes_every_id_and_nothing_else_and_keeps_parents_on_their_spans(string kind, int spansPerTrace)
    {
        var original = OtlpBenchmarkPayloads.Create(kind, seed: 3, spansPerTrace);
        var request = new RenewableRequest(original.ToByteArray());
        var seen = new HashSet<ByteString>();
        var before = Spans(ExportTraceServiceRequest.Parser.ParseFrom(request.Body));
        foreach (var span in before)
        {
            seen.Add(span.TraceId);
            seen.Add(span.SpanId);
        }

        for (var renewal = 0; renewal < 3; renewal++)
        {
            request.Renew();
            var after = Spans(ExportTraceServiceRequest.Parser.ParseFrom(request.Body));
            Assert.Equal(before.Count, after.Count);
            var renamed = new Dictionary<ByteString, ByteString>();
            for (var i = 0; i < before.Count; i++)
            {
                var (old, now) = (before[i], after[i]);
                Assert.True(seen.Add(now.SpanId), $"span id {now.SpanId.ToBase64()} was used before");
                Assert.True(renamed.TryAdd(old.SpanId, now.SpanId));
                if (renamed.TryGetValue(old.TraceId, out var traceId))
                {
                    Assert.Equal(traceId, now.TraceId);
                }
                else
                {
                    Assert.True(seen.Add(now.TraceId), $"trace id {now.TraceId.ToBase64()} was used before");
                    renamed[old.TraceId] = now.TraceId;
                }

                // Everything but the ids is as it was.
                var restored = now.Clone();
                restored.TraceId = old.TraceId;
                restored.SpanId = old.SpanId;
                restored.ParentSpanId = old.ParentSpanId;
                Assert.Equal(old, restored);
            }

            // A child's parent id is its parent's new id (checked once every span is renamed: a parent may come after
            // its child in the body); a parent outside the request (or none) stays as it was.
            for (var i = 0; i < before.Count; i++)
            {
                var parent = before[i].ParentSpanId;
                Assert.Equal(renamed.GetValueOrDefault(parent, parent), after[i].ParentSpanId);
            }

            before = after;
        }
    }

    private static List<OpenTelemetry.Proto.Trace.V1.Span> Spans(ExportTraceServiceRequest request) =>
        [.. request.ResourceSpans.SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans)];
}
