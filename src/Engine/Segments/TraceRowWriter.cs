using TraceStore.DuckDb;
using TraceStore.Engine.Assembly;
using TraceStore.Engine.Traces;

namespace TraceStore.Engine.Segments;

/// <summary>Appends one summary row per sealed trace to the <c>traces</c> staging table.</summary>
internal sealed class TraceRowWriter(DuckDbConnection connection) : IDisposable
{
    private readonly DuckDbChunkAppender _traces = connection.CreateChunkAppender("traces");

    public void Append(TraceBuffer buffer, TraceSummary summary, long sealSequence)
    {
        var row = _traces.AddRow();
        var c = 0;
        _traces.Column(c++).SetString(row, summary.ExperimentId);
        _traces.Column(c++).SetString(row, summary.TraceId);
        _traces.Column(c++).SetInt64(row, sealSequence);
        _traces.Column(c++).SetInt64(row, summary.RequestTimeMs);
        SetOptional(_traces.Column(c++), row, summary.ExecutionDurationMs);
        _traces.Column(c++).SetString(row, TraceInfoJson.StateName(summary.State));
        SetOptional(_traces.Column(c++), row, summary.RequestPreview);
        SetOptional(_traces.Column(c++), row, summary.ResponsePreview);
        SetOptional(_traces.Column(c++), row, summary.TraceName);
        SetOptional(_traces.Column(c++), row, summary.SessionId);
        SetOptional(_traces.Column(c++), row, summary.UserId);
        var usage = summary.TokenUsage;
        SetOptional(_traces.Column(c++), row, usage?.InputTokens);
        SetOptional(_traces.Column(c++), row, usage?.OutputTokens);
        SetOptional(_traces.Column(c++), row, usage?.TotalTokens);
        SetOptional(_traces.Column(c++), row, usage?.CacheReadInputTokens);
        SetOptional(_traces.Column(c++), row, usage?.CacheCreationInputTokens);
        _traces.Column(c++).SetInt32(row, summary.SpanCount);
        _traces.Column(c++).SetInt32(row, summary.ErrorSpanCount);
        SetList(_traces.Column(c++), row, summary.ServiceNames);
        SetList(_traces.Column(c++), row, summary.Models);
        SetList(_traces.Column(c++), row, summary.SpanTypes);
        SetList(_traces.Column(c++), row, SpanTypeNames(buffer));
        SetMap(_traces.Column(c++), row, summary.Tags);
        SetMap(_traces.Column(c), row, summary.Metadata);
    }

    public void Close() => _traces.Close();

    public void Dispose() => _traces.Dispose();

    /// <summary>Distinct "TYPE:name" of the trace's spans, so "a TOOL span named search_web" is answered from the trace
    /// row alone (segment-layout.md, Q4).</summary>
    private static List<string> SpanTypeNames(TraceBuffer buffer)
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (ref readonly var span in buffer.Spans.AsSpan())
        {
            names.Add($"{buffer.GetString(span.SpanType)}:{buffer.GetString(span.Name)}");
        }

        return [.. names];
    }

    private static void SetOptional(DuckDbVectorWriter column, int row, string? value)
    {
        if (value is null)
        {
            column.SetNull(row);
        }
        else
        {
            column.SetString(row, value);
        }
    }

    private static void SetOptional(DuckDbVectorWriter column, int row, long? value)
    {
        if (value is { } v)
        {
            column.SetInt64(row, v);
        }
        else
        {
            column.SetNull(row);
        }
    }

    private static void SetList(DuckDbVectorWriter column, int row, IReadOnlyList<string> values)
    {
        var elements = column.BeginList(row, values.Count, out var at);
        foreach (var value in values)
        {
            elements.SetString(at++, value);
        }
    }

    private static void SetMap(DuckDbVectorWriter column, int row, IReadOnlyDictionary<string, string> map)
    {
        var entries = column.BeginList(row, map.Count, out var at);
        var keys = entries.GetField(0);
        var values = entries.GetField(1);
        foreach (var (key, value) in map.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            keys.SetString(at, key);
            values.SetString(at, value);
            at++;
        }
    }
}
