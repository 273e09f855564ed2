using System.IO.Compression;
using System.Text.Json;
using Xunit;

namespace TraceStore.Testing;

/// <summary>The OTLP payloads captured from real clients (../shared/testdata/otlp) and their manifest.</summary>
public static class TestPayloads
{
    public static string Folder { get; } = RepositoryPaths.OtlpTestData;

    public static IReadOnlyList<PayloadFile> All { get; } = Load();

    public static TheoryData<string> Names(string? format = null)
    {
        var data = new TheoryData<string>();
        foreach (var file in All.Where(f => format is null || f.Format == format))
        {
            data.Add(file.Name);
        }

        return data;
    }

    public static PayloadFile Get(string name) => All.Single(f => f.Name == name);

    /// <summary>Per trace id: the files it arrived in and its expected token usage (input, output, total), null when none.</summary>
    public static IReadOnlyDictionary<string, (string[] Files, (long Input, long Output, long Total)? Usage)> Traces { get; } = LoadTraces();

    private static Dictionary<string, (string[], (long, long, long)?)> LoadTraces()
    {
        using var manifest = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Folder, "manifest.json")));
        var traces = new Dictionary<string, (string[], (long, long, long)?)>();
        foreach (var trace in manifest.RootElement.GetProperty("traces").EnumerateObject())
        {
            var files = trace.Value.GetProperty("files").EnumerateArray().Select(f => f.GetString()!).ToArray();
            var expected = trace.Value.GetProperty("token_usage").GetProperty("expected");
            traces[trace.Name] = (files, expected.ValueKind == JsonValueKind.Null
                ? null
                : (expected.GetProperty("input_tokens").GetInt64(), expected.GetProperty("output_tokens").GetInt64(), expected.GetProperty("total_tokens").GetInt64()));
        }

        return traces;
    }

    private static List<PayloadFile> Load()
    {
        using var manifest = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Folder, "manifest.json")));
        var files = new List<PayloadFile>();
        foreach (var file in manifest.RootElement.GetProperty("files").EnumerateArray())
        {
            var perTrace = file.GetProperty("span_count_per_trace").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32());
            files.Add(new PayloadFile(
                file.GetProperty("file").GetString()!,
                file.GetProperty("format").GetString()!,
                file.GetProperty("content_encoding").ValueKind == JsonValueKind.Null ? null : file.GetProperty("content_encoding").GetString(),
                file.GetProperty("expected_trace_count").GetInt32(),
                file.GetProperty("expected_span_count").GetInt32(),
                perTrace,
                file.GetProperty("root_spans_in_file").EnumerateArray().Select(e => e.GetString()!).ToHashSet(),
                file.GetProperty("error_spans").EnumerateArray().Select(e => (e.GetProperty("trace_id").GetString()!, e.GetProperty("span").GetString()!)).ToHashSet(),
                file.GetProperty("service_names").EnumerateArray().Select(e => e.GetString()!).ToList()));
        }

        return files;
    }
}

public sealed record PayloadFile(
    string Name,
    string Format,
    string? ContentEncoding,
    int TraceCount,
    int SpanCount,
    Dictionary<string, int> SpansPerTrace,
    HashSet<string> RootTraces,
    HashSet<(string TraceId, string SpanName)> ErrorSpans,
    List<string> ServiceNames)
{
    public byte[] RawBytes => File.ReadAllBytes(Path.Combine(TestPayloads.Folder, Name));

    /// <summary>The request body after content decoding (gunzipped with the BCL, independent of our decoder).</summary>
    public byte[] DecodedBytes()
    {
        var raw = RawBytes;
        if (ContentEncoding != "gzip")
        {
            return raw;
        }

        using var input = new GZipStream(new MemoryStream(raw), CompressionMode.Decompress);
        using var output = new MemoryStream();
        input.CopyTo(output);
        return output.ToArray();
    }
}
