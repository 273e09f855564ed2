using System.Buffers;
using System.Text;
using TraceStore.Fuzz;
using TraceStore.Protocol.Content;
using TraceStore.Protocol.Model;
using TraceStore.Protocol.Otlp;
using TraceStore.Protocol.Otlp.Json;
using Xunit.Abstractions;

namespace TraceStore.Protocol.Tests;

/// <summary>
/// A seconds-bounded run of every fuzz target (fixed seed, so a failure reproduces), and regression inputs for what
/// longer runs found. The longer run is <c>dotnet run -c Release --project fuzz/TraceStore.Fuzz -- --seconds 300</c>.
/// </summary>
public sealed class FuzzSmokeTests(ITestOutputHelper output)
{
    public static TheoryData<int> Targets()
    {
        var data = new TheoryData<int>();
        for (var i = 0; i < FuzzTargets.All.Count; i++)
        {
            data.Add(i);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void Fuzz_target_returns_or_throws_its_typed_error_for_every_input(int index)
    {
        var target = FuzzTargets.All[index]();

        var report = FuzzRunner.Run(target, TimeSpan.FromSeconds(3), seed: 20261121);

        output.WriteLine(report.ToString());
        Assert.True(report.Findings.Count == 0, string.Join("\n", report.Findings.Take(3).Select(f => $"{f.Kind}: {f.Detail}")));
        Assert.True(report.Executions > target.Seeds(new Random(1)).Count, $"only {report.Executions} inputs ran");
        Assert.True(report.Refused > 0 && report.Accepted > 0, "mutations should produce both accepted and refused inputs");
    }

    [Fact]
    public void Zlib_stream_asking_for_a_preset_dictionary_is_a_compression_error()
    {
        // Found by the fuzzer: FDICT set in a valid zlib header made zlib fail with ZLibException (an IOException).
        byte[] body = [0x78, 0xBB, 0x00, 0x00, 0x00, 0x01, 0x63, 0x00, 0x00];

        var error = Assert.Throws<OtlpDecodeException>(() => BoundedDecompressor.Decompress(new ReadOnlySequence<byte>(body), OtlpContentEncoding.Deflate, 1 << 20));

        Assert.Equal(OtlpRejectReason.InvalidCompression, error.Reason);
    }

    [Fact]
    public void Json_property_name_that_is_not_utf8_is_invalid_json()
    {
        // Found by the fuzzer: unescaping such a name threw InvalidOperationException out of the decoder.
        var body = Encoding.UTF8.GetBytes("{\"resourceSpans\":[],\"X\":1}");
        body[21] = 0xFF; // the X

        var error = Assert.Throws<OtlpDecodeException>(() => OtlpJsonDecoder.DecodeMessage(new ReadOnlySequence<byte>(body), new SpanBatch()));

        Assert.Equal(OtlpRejectReason.InvalidJson, error.Reason);
        Assert.Equal("a property name is not valid UTF-8", error.Detail);
    }
}
