using TraceStore.Protocol.Model;

namespace TraceStore.Protocol.Tests.Support;

/// <summary>Per-trace facts of a batch, in the manifest's terms.</summary>
internal static class BatchSummary
{
    public static Dictionary<string, int> SpansPerTrace(SpanBatch batch) =>
        batch.Spans.AsSpan().ToArray().GroupBy(s => s.TraceId.ToHex()).ToDictionary(g => g.Key, g => g.Count());

    public static HashSet<string> TracesWithRoot(SpanBatch batch) =>
        batch.Spans.AsSpan().ToArray().Where(s => s.IsRoot).Select(s => s.TraceId.ToHex()).ToHashSet();

    public static HashSet<(string, string)> ErrorSpans(SpanBatch batch) =>
        batch.Spans.AsSpan().ToArray().Where(s => s.StatusCode == StatusCode.Error).Select(s => (s.TraceId.ToHex(), batch.GetString(s.Name))).ToHashSet();

    public static List<string> ServiceNames(SpanBatch batch)
    {
        var names = new List<string>();
        foreach (var resource in batch.Resources.AsSpan())
        {
            foreach (var kv in batch.KeyValues.Slice(resource.Attributes))
            {
                if (batch.GetString(kv.Key) == "service.name")
                {
                    names.Add(batch.GetString(kv.Value.Bytes));
                }
            }
        }

        return names.Distinct().ToList();
    }
}
