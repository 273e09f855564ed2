using System.Buffers;
using System.CommandLine;
using TraceStore.Protocol.Content;
using TraceStore.Protocol.Model;
using TraceStore.Protocol.Otlp;

namespace TraceStore.Server.Cli;

/// <summary>
/// <c>tracestore decode FILE</c>: decodes one OTLP request body and reports what is in it. Format and encoding
/// default to what the file name says (.json, .gz) and the gzip magic bytes. Exit codes: 0 decoded (possibly with
/// partial-success rejections, which are reported), 1 the file cannot be read, 2 the body is refused.
/// </summary>
internal static class DecodeCommand
{
    public const int Unreadable = 1;
    public const int Refused = 2;

    public static Command Create()
    {
        var file = new Argument<FileInfo>("FILE") { Description = "An OTLP/HTTP request body: protobuf or JSON, optionally gzip- or deflate-compressed." };
        var contentType = PayloadFiles.ContentTypeOption();
        var contentEncoding = PayloadFiles.ContentEncodingOption();
        var format = new Option<string>("--format") { Description = "Output format.", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "json");

        var command = new Command("decode", "Decode an OTLP payload file and print its resources, scopes, spans, traces, roots, token usage and span types.")
        {
            file,
            contentType,
            contentEncoding,
            format,
        };
        command.SetAction(result => Run(
            result.GetValue(file)!,
            result.GetValue(contentType),
            result.GetValue(contentEncoding),
            result.GetValue(format)!,
            result.InvocationConfiguration.Output,
            result.InvocationConfiguration.Error));
        return command;
    }

    private static int Run(FileInfo file, string? contentType, string? contentEncoding, string format, TextWriter output, TextWriter error)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(file.FullName);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"decode: cannot read {file.FullName}: {e.Message}");
            return Unreadable;
        }

        var (payload, encoding) = PayloadFiles.Resolve(file.Name, bytes, contentType, contentEncoding);
        var batch = new SpanBatch();
        try
        {
            using var decoder = new OtlpRequestDecoder();
            decoder.Decode(new ReadOnlySequence<byte>(bytes), payload, encoding, batch);
        }
        catch (OtlpDecodeException e)
        {
            error.WriteLine($"decode: {file.Name} refused ({e.Reason}): {e.Message}");
            return Refused;
        }

        var report = DecodeReport.Build(file.Name, payload == OtlpPayloadFormat.Json ? "json" : "protobuf", encoding.ToString().ToLowerInvariant(), bytes.Length, batch);
        if (format == "json")
        {
            using var stream = new MemoryStream();
            report.WriteJson(stream);
            output.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
        }
        else
        {
            report.WriteTable(output);
        }

        return 0;
    }
}
