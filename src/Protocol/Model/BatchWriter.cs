using System.Runtime.CompilerServices;

namespace TraceStore.Protocol.Model;

/// <summary>
/// How both decoders write into a <see cref="SpanBatch"/>: key/values and array values go first onto scratch
/// stacks, and when the element that owns them ends, <see cref="PopKeyValues"/> / <see cref="PopArrayValues"/>
/// move them to the batch as one run. Nested lists finish before their parent, so every range stays
/// contiguous however fields interleave. Also tracks the per-span problem of the span being decoded and
/// rolls a refused span back.
/// <para>Locals are not zeroed on entry (<c>SkipLocalsInit</c>: see <see cref="Otlp.Protobuf.OtlpProtobufDecoder"/>).</para>
/// </summary>
[SkipLocalsInit]
internal sealed class BatchWriter(SpanBatch batch)
{
    private readonly RecordList<KeyValueRecord> _keyValueStack = new(64);
    private readonly RecordList<AnyValueRecord> _arrayValueStack = new(16);
    /// <summary>Strings shorter than this try the one-pass ASCII copy first (longer ones go to the SIMD validator).</summary>
    private const int ShortAscii = 64;

    private Mark _spanMark;

    public SpanBatch Batch => batch;

    /// <summary>True while a span is being decoded: problems then refuse the span instead of the request.</summary>
    public bool InSpan { get; private set; }

    /// <summary>Why the span being decoded will be refused (the first problem found), or null.</summary>
    public string? SpanProblem { get; private set; }

    public int KeyValueStackDepth => _keyValueStack.Count;

    public int ArrayValueStackDepth => _arrayValueStack.Count;

    public void Reset()
    {
        _keyValueStack.Clear();
        _arrayValueStack.Clear();
        InSpan = false;
        SpanProblem = null;
    }

    public ref KeyValueRecord PushKeyValue() => ref _keyValueStack.Add();

    public ref AnyValueRecord PushArrayValue() => ref _arrayValueStack.Add();

    public RecordRange PopKeyValues(int stackDepth)
    {
        var count = _keyValueStack.Count - stackDepth;
        if (count == 0)
        {
            return new RecordRange(batch.KeyValues.Count, 0);
        }

        var start = batch.KeyValues.AddRange(_keyValueStack.AsSpan()[stackDepth..]);
        _keyValueStack.Truncate(stackDepth);
        return new RecordRange(start, count);
    }

    public RecordRange PopArrayValues(int stackDepth)
    {
        var count = _arrayValueStack.Count - stackDepth;
        if (count == 0)
        {
            return new RecordRange(batch.ArrayValues.Count, 0);
        }

        var start = batch.ArrayValues.AddRange(_arrayValueStack.AsSpan()[stackDepth..]);
        _arrayValueStack.Truncate(stackDepth);
        return new RecordRange(start, count);
    }

    /// <summary>Starts a span: remembers where the batch stood, so <see cref="EndSpan"/> can roll it back.</summary>
    public ref SpanRecord BeginSpan(int scopeIndex)
    {
        _spanMark = Mark.Take(batch);
        InSpan = true;
        SpanProblem = null;
        ref var span = ref batch.Spans.Add();
        span.ScopeIndex = scopeIndex;
        return ref span;
    }

    /// <summary>Ends the span: keeps it, or rolls it back and counts it rejected when a problem was found.</summary>
    /// <param name="path">Names the span in the rejection message (formatted only when the span is refused).</param>
    public bool EndSpan(string? idProblem, SpanPath path)
    {
        InSpan = false;
        var problem = SpanProblem ?? idProblem;
        if (problem is null)
        {
            return true;
        }

        _spanMark.RollBack(batch);
        batch.Reject($"{path}: {problem}");
        return false;
    }

    /// <summary>Records a per-span problem (inside a span), or throws it as a request rejection (outside).</summary>
    public void Problem(Otlp.OtlpRejectReason reason, string detail, long offset)
    {
        if (!InSpan)
        {
            Otlp.OtlpDecodeException.Throw(reason, detail, offset);
        }

        SpanProblem ??= detail;
    }

    /// <summary>Copies a string field into the arena after checking it is UTF-8 (a problem otherwise: empty slice).</summary>
    public ArenaSlice AppendUtf8(ReadOnlySpan<byte> bytes, string field, long offset)
    {
        // Short ASCII strings (most names) are checked and copied in one pass.
        var arena = batch.Arena;
        if (bytes.Length < ShortAscii && Utf8Validation.TryCopyAscii(bytes, arena.GetSpan(bytes.Length)))
        {
            return arena.Commit(bytes.Length);
        }

        if (!Utf8Validation.IsValid(bytes))
        {
            InvalidUtf8(field, offset);
            return default;
        }

        return batch.Arena.Append(bytes);
    }

    // Out of line: the message's string builder would otherwise be a local of every decode loop this is inlined into.
    private void InvalidUtf8(string field, long offset) =>
        Problem(Otlp.OtlpRejectReason.InvalidUtf8, InSpan ? $"{field} is not valid UTF-8 (at byte {offset})" : $"{field} is not valid UTF-8", offset);

    /// <summary>List lengths and arena size at the start of a span, to roll a refused span back.</summary>
    private readonly record struct Mark(int Spans, int Events, int Links, int KeyValues, int ArrayValues, int Arena)
    {
        public static Mark Take(SpanBatch b) =>
            new(b.Spans.Count, b.Events.Count, b.Links.Count, b.KeyValues.Count, b.ArrayValues.Count, b.Arena.Length);

        public void RollBack(SpanBatch b)
        {
            b.Spans.Truncate(Spans);
            b.Events.Truncate(Events);
            b.Links.Truncate(Links);
            b.KeyValues.Truncate(KeyValues);
            b.ArrayValues.Truncate(ArrayValues);
            b.Arena.Truncate(Arena);
        }
    }
}
