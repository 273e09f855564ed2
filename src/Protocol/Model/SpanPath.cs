namespace TraceStore.Protocol.Model;

/// <summary>Where a span sits in its request, for rejection messages (formatted only when a span is refused).</summary>
internal readonly record struct SpanPath(int Resource, int Scope, int Span)
{
    public override string ToString() => $"resource_spans[{Resource}].scope_spans[{Scope}].spans[{Span}]";
}
