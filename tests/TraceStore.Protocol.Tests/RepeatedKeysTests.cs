using System.Buffers;
using FsCheck;
using FsCheck.Fluent;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Trace.V1;
using TraceStore.Protocol.Content;
using TraceStore.Protocol.Model;
using TraceStore.Protocol.Otlp;

namespace TraceStore.Protocol.Tests;

/// <summary><see cref="RepeatedKeys"/> reads a KeyValue list as MLflow's Python dict does: first position, last value.</summary>
public sealed class RepeatedKeysTests
{
    [Fact]
    public void A_repeated_key_keeps_its_first_position_and_its_last_value()
    {
        var (batch, range) = Decode(["a", "b", "a", "c", "b", "a"]);

        Assert.True(RepeatedKeys.Any(batch, range));
        // Values are the key's index in the list: a -> 5 (last), b -> 4, c -> 3, in the order a, b, c.
        Assert.Equal([range.Start + 5, range.Start + 4, range.Start + 3], RepeatedKeys.LastOccurrences(batch, range));
        Assert.Equal(RepeatedKeys.LastOccurrences(batch, range), RepeatedKeys.Entries(batch, range));
    }

    [Fact]
    public void Distinct_keys_are_every_entry_in_order()
    {
        var (batch, range) = Decode(["a", "ab", "b", "", "ba"]);

        Assert.False(RepeatedKeys.Any(batch, range));
        Assert.Equal(Enumerable.Range(range.Start, 5), RepeatedKeys.Entries(batch, range));
        Assert.Equal(Enumerable.Range(range.Start, 5), RepeatedKeys.LastOccurrences(batch, range));
    }

    /// <summary>Lists of up to 600 keys from alphabets of 1 to 700 keys cover the pairwise check (up to 16), the
    /// stack table (up to 256) and the rented one, with and without repeats, against a dictionary kept in C#.</summary>
    [Fact]
    public void Any_list_reads_as_an_insertion_ordered_dictionary_with_last_values()
    {
        var gen = from alphabet in Gen.Choose(1, 700)
                  from length in Gen.Choose(0, 600)
                  from picks in Gen.ArrayOf(Gen.Choose(0, alphabet - 1), length)
                  select picks.Select(p => $"key.{p}").ToArray();
        Prop.ForAll(gen.ToArbitrary(), keys =>
        {
            var (batch, range) = Decode(keys);
            var order = new List<string>();
            var last = new Dictionary<string, int>();
            for (var i = 0; i < keys.Length; i++)
            {
                if (!last.ContainsKey(keys[i]))
                {
                    order.Add(keys[i]);
                }

                last[keys[i]] = range.Start + i;
            }

            var expected = order.Select(k => last[k]).ToArray();
            return RepeatedKeys.Any(batch, range) == (order.Count < keys.Length)
                && expected.SequenceEqual(RepeatedKeys.LastOccurrences(batch, range))
                && expected.SequenceEqual(RepeatedKeys.Entries(batch, range));
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(200));
    }

    /// <summary>One span whose attributes are <paramref name="keys"/>, each with its index as value; returns the
    /// decoded batch and the span's attribute range.</summary>
    private static (SpanBatch Batch, RecordRange Range) Decode(string[] keys)
    {
        var span = new Span { TraceId = ByteString.CopyFrom(new byte[16] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 }), SpanId = ByteString.CopyFrom(new byte[8] { 1, 2, 3, 4, 5, 6, 7, 8 }), Name = "s" };
        span.Attributes.Add(keys.Select((k, i) => new KeyValue { Key = k, Value = new AnyValue { IntValue = i } }));
        var request = new ExportTraceServiceRequest { ResourceSpans = { new ResourceSpans { ScopeSpans = { new ScopeSpans { Spans = { span } } } } } };
        using var decoder = new OtlpRequestDecoder();
        var batch = new SpanBatch();
        decoder.Decode(new ReadOnlySequence<byte>(request.ToByteArray()), OtlpPayloadFormat.Protobuf, OtlpContentEncoding.Identity, batch);
        Assert.Equal(1, batch.Spans.Count);
        return (batch, batch.Spans[0].Attributes);
    }
}
