namespace TraceStore.Protocol.Otlp;

/// <summary>Limits the OTLP decoders enforce. Validated by <see cref="Validate"/>; immutable once built.</summary>
public sealed record OtlpDecoderOptions
{
    public static readonly OtlpDecoderOptions Default = new();

    /// <summary>Largest decoded (decompressed) request, in bytes. OTLP recommends 64 MiB. Checked before buffering.</summary>
    public long MaxMessageBytes { get; init; } = 64L << 20;

    /// <summary>Deepest nesting of AnyValue arrays and key/value lists inside one attribute value (1 = flat).</summary>
    public int MaxAttributeDepth { get; init; } = 16;

    /// <summary>Most spans one request may carry.</summary>
    public int MaxSpansPerRequest { get; init; } = 200_000;

    public OtlpDecoderOptions Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxMessageBytes, 1024, nameof(MaxMessageBytes));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxMessageBytes, int.MaxValue, nameof(MaxMessageBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxAttributeDepth, 1, nameof(MaxAttributeDepth));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxAttributeDepth, 64, nameof(MaxAttributeDepth));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxSpansPerRequest, 1, nameof(MaxSpansPerRequest));
        return this;
    }
}
