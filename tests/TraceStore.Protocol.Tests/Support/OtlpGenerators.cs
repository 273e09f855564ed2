using FsCheck;
using FsCheck.Fluent;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;

namespace TraceStore.Protocol.Tests.Support;

/// <summary>
/// FsCheck generators of valid <see cref="ExportTraceServiceRequest"/>s: every field kind, unicode strings
/// (empty, around the 12/13-byte boundary, occasionally tens of KB), nested AnyValue arrays and kvlists, with
/// ids and times that pass per-span validation (so the oracle and our decoder must agree on everything).
/// </summary>
internal static class OtlpGenerators
{
    public static Gen<ExportTraceServiceRequest> Request(int maxDepth = 4) =>
        from resources in UpTo(ResourceSpans(maxDepth), 3)
        select Build(resources);

    private static ExportTraceServiceRequest Build(IEnumerable<ResourceSpans> resources)
    {
        var request = new ExportTraceServiceRequest();
        request.ResourceSpans.AddRange(resources);
        return request;
    }

    private static Gen<ResourceSpans> ResourceSpans(int maxDepth) =>
        from hasResource in ArbMap.Default.GeneratorFor<bool>()
        from attributes in Attributes(maxDepth)
        from dropped in Gen.Choose(0, 3)
        from scopes in UpTo(ScopeSpans(maxDepth), 3)
        from schemaUrl in Text()
        select BuildResource(hasResource, attributes, (uint)dropped, scopes, schemaUrl);

    private static ResourceSpans BuildResource(bool hasResource, List<KeyValue> attributes, uint dropped, IEnumerable<ScopeSpans> scopes, string schemaUrl)
    {
        var resourceSpans = new ResourceSpans { SchemaUrl = schemaUrl };
        if (hasResource || attributes.Count > 0)
        {
            resourceSpans.Resource = new Resource { DroppedAttributesCount = dropped };
            resourceSpans.Resource.Attributes.AddRange(attributes);
        }

        resourceSpans.ScopeSpans.AddRange(scopes);
        return resourceSpans;
    }

    private static Gen<ScopeSpans> ScopeSpans(int maxDepth) =>
        from name in Text()
        from version in Text()
        from attributes in Attributes(maxDepth)
        from spans in UpTo(Span(maxDepth), 6)
        from schemaUrl in Text()
        select BuildScope(name, version, attributes, spans, schemaUrl);

    private static ScopeSpans BuildScope(string name, string version, List<KeyValue> attributes, IEnumerable<Span> spans, string schemaUrl)
    {
        var scopeSpans = new ScopeSpans { Scope = new InstrumentationScope { Name = name, Version = version }, SchemaUrl = schemaUrl };
        scopeSpans.Scope.Attributes.AddRange(attributes);
        scopeSpans.Spans.AddRange(spans);
        return scopeSpans;
    }

    private static Gen<Span> Span(int maxDepth) =>
        from traceId in Id(16)
        from spanId in Id(8)
        from isRoot in ArbMap.Default.GeneratorFor<bool>()
        from parentId in Id(8)
        from name in Text()
        from traceState in Text()
        from kind in Gen.Choose(0, 5)
        from start in ArbMap.Default.GeneratorFor<ulong>()
        from duration in Gen.Choose(0, int.MaxValue)
        from hasEnd in Gen.Frequency((9, Gen.Constant(true)), (1, Gen.Constant(false)))
        from attributes in Attributes(maxDepth)
        from events in UpTo(Event(maxDepth), 3)
        from links in UpTo(Link(maxDepth), 2)
        from statusCode in Gen.Choose(0, 2)
        from statusMessage in Text()
        from flags in ArbMap.Default.GeneratorFor<uint>()
        from counts in Gen.Choose(0, 5).ArrayOf(3)
        select BuildSpan(traceId, spanId, isRoot ? ByteString.Empty : parentId, name, traceState, kind,
            start / 2, hasEnd ? start / 2 + (ulong)duration : 0, attributes, events, links, statusCode, statusMessage, flags, counts);

    private static Span BuildSpan(ByteString traceId, ByteString spanId, ByteString parentId, string name, string traceState, int kind,
        ulong start, ulong end, List<KeyValue> attributes, IEnumerable<Span.Types.Event> events, IEnumerable<Span.Types.Link> links,
        int statusCode, string statusMessage, uint flags, int[] counts)
    {
        var span = new Span
        {
            TraceId = traceId,
            SpanId = spanId,
            ParentSpanId = parentId,
            Name = name,
            TraceState = traceState,
            Kind = (Span.Types.SpanKind)kind,
            StartTimeUnixNano = start,
            EndTimeUnixNano = end,
            Flags = flags,
            DroppedAttributesCount = (uint)counts[0],
            DroppedEventsCount = (uint)counts[1],
            DroppedLinksCount = (uint)counts[2],
            Status = statusCode == 0 && statusMessage.Length == 0 ? null : new Status { Code = (Status.Types.StatusCode)statusCode, Message = statusMessage },
        };
        span.Attributes.AddRange(attributes);
        span.Events.AddRange(events);
        span.Links.AddRange(links);
        return span;
    }

    private static Gen<Span.Types.Event> Event(int maxDepth) =>
        from time in ArbMap.Default.GeneratorFor<ulong>()
        from name in Text()
        from attributes in Attributes(maxDepth)
        from dropped in Gen.Choose(0, 2)
        select BuildEvent(time, name, attributes, (uint)dropped);

    private static Span.Types.Event BuildEvent(ulong time, string name, List<KeyValue> attributes, uint dropped)
    {
        var e = new Span.Types.Event { TimeUnixNano = time, Name = name, DroppedAttributesCount = dropped };
        e.Attributes.AddRange(attributes);
        return e;
    }

    private static Gen<Span.Types.Link> Link(int maxDepth) =>
        from traceId in Id(16)
        from spanId in Id(8)
        from traceState in Text()
        from attributes in Attributes(maxDepth)
        from flags in ArbMap.Default.GeneratorFor<uint>()
        select BuildLink(traceId, spanId, traceState, attributes, flags);

    private static Span.Types.Link BuildLink(ByteString traceId, ByteString spanId, string traceState, List<KeyValue> attributes, uint flags)
    {
        var link = new Span.Types.Link { TraceId = traceId, SpanId = spanId, TraceState = traceState, Flags = flags };
        link.Attributes.AddRange(attributes);
        return link;
    }

    private static Gen<List<KeyValue>> Attributes(int depth) =>
        UpTo(KeyValue(depth), 6);

    private static Gen<KeyValue> KeyValue(int depth) =>
        from key in Text()
        from value in Value(depth)
        select new KeyValue { Key = key, Value = value };

    /// <summary>Any AnyValue case; arrays and kvlists only while <paramref name="depth"/> allows (depth 1 = scalars only).</summary>
    public static Gen<AnyValue> Value(int depth)
    {
        var scalars = new List<(int, Gen<AnyValue>)>
        {
            (4, Text().Select(s => new AnyValue { StringValue = s })),
            (1, ArbMap.Default.GeneratorFor<bool>().Select(b => new AnyValue { BoolValue = b })),
            (2, ArbMap.Default.GeneratorFor<long>().Select(i => new AnyValue { IntValue = i })),
            (1, ArbMap.Default.GeneratorFor<double>().Select(d => new AnyValue { DoubleValue = d })),
            (1, ArbMap.Default.GeneratorFor<byte[]>().Select(b => new AnyValue { BytesValue = ByteString.CopyFrom(b) })),
            (1, Gen.Constant(new AnyValue())),
        };
        if (depth > 1)
        {
            scalars.Add((1, UpTo(Value(depth - 1), 4).Select(values =>
            {
                var array = new ArrayValue();
                array.Values.AddRange(values);
                return new AnyValue { ArrayValue = array };
            })));
            scalars.Add((1, UpTo(KeyValue(depth - 1), 4).Select(values =>
            {
                var list = new KeyValueList();
                list.Values.AddRange(values);
                return new AnyValue { KvlistValue = list };
            })));
        }

        return Gen.Frequency(scalars.ToArray());
    }

    /// <summary>0 to <paramref name="max"/> elements. (A Where filter on ListOf would regenerate whole subtrees until a
    /// short list came up: exponential for nested generators.)</summary>
    private static Gen<List<T>> UpTo<T>(Gen<T> element, int max) =>
        Gen.Choose(0, max).SelectMany(n => element.ArrayOf(n)).Select(a => a.ToList());

    private static Gen<ByteString> Id(int size) =>
        ArbMap.Default.GeneratorFor<byte>().ArrayOf(size)
            .Where(b => b.Any(x => x != 0))
            .Select(b => ByteString.CopyFrom(b));

    /// <summary>Valid Unicode: mostly short (around the 12/13-byte inline boundary), sometimes empty, rarely 20–70 KB.</summary>
    public static Gen<string> Text() =>
        Gen.Frequency(
            (2, Gen.Constant("")),
            (12, UpTo(CodePoints(), 24).Select(string.Concat)),
            (1, Gen.Choose(20_000, 70_000).SelectMany(n => CodePoints().Select(c => string.Concat(Enumerable.Repeat(c, n / c.Length))))));

    private static Gen<string> CodePoints() =>
        Gen.Frequency(
                (6, Gen.Choose(0x20, 0x7E)),
                (1, Gen.Choose(0, 0x1F)),
                (2, Gen.Choose(0xA0, 0x7FF)),
                (2, Gen.Choose(0x800, 0xD7FF)),
                (1, Gen.Choose(0xE000, 0xFFFD)),
                (1, Gen.Choose(0x10000, 0x10FFFF)))
            .Select(char.ConvertFromUtf32);
}
