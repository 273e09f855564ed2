using System.Buffers;
using System.CommandLine;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using TraceStore.OtlpOracle;
using TraceStore.Protocol.Model;
using TraceStore.Protocol.Otlp.Json;
using TraceStore.Protocol.Otlp.Protobuf;

namespace TraceStore.Server.Cli;

/// <summary>
/// <c>tracestore bench decode</c>: a quick in-process comparison of TraceStore's OTLP decoders with Google.Protobuf's
/// parsers on the same bytes (small ~400 B spans and GenAI ~4 KB spans, ~1 MB requests). Decoders take turns in
/// 100 ms slices for the whole run, so machine noise falls on all of them alike. For rigorous figures use the
/// BenchmarkDotNet suites in bench/.
/// </summary>
internal static class BenchDecodeCommand
{
    private static readonly TimeSpan Slice = TimeSpan.FromMilliseconds(100);

    public static Command Create()
    {
        var seconds = new Option<double>("--seconds") { Description = "Total measuring time.", DefaultValueFactory = _ => 8 };
        var format = new Option<string>("--format") { Description = "Output format.", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "json");
        var decode = new Command("decode", "Compare TraceStore's OTLP decoders with Google.Protobuf's parsers: spans/s, MB/s and ratios.") { seconds, format };
        decode.SetAction(result =>
        {
            var rows = Run(TimeSpan.FromSeconds(Math.Max(0.5, result.GetValue(seconds))));
            Write(rows, result.GetValue(format)!, result.InvocationConfiguration.Output);
            return 0;
        });
        return new Command("bench", "Measure this build on this machine.") { decode, BenchWalCommand.Create(), BenchSealCommand.Create(), BenchIngestCommand.Create(), BenchCompactCommand.Create(), BenchTextCommand.Create() };
    }

    internal sealed record Row(string Payload, string Decoder, long Spans, long Bytes, long Operations, TimeSpan Elapsed, string Baseline)
    {
        public double SpansPerSecond => Spans * Operations / Elapsed.TotalSeconds;

        public double MegabytesPerSecond => Bytes * (double)Operations / Elapsed.TotalSeconds / 1e6;
    }

    internal static List<Row> Run(TimeSpan total)
    {
        var rows = new List<Row>();
        var payloads = new[] { OtlpBenchmarkPayloads.Small, OtlpBenchmarkPayloads.GenAi };
        foreach (var payload in payloads)
        {
            var request = OtlpBenchmarkPayloads.Create(payload);
            var spans = request.ResourceSpans.Sum(r => r.ScopeSpans.Sum(s => s.Spans.Count));
            var protobuf = request.ToByteArray();
            var json = Encoding.UTF8.GetBytes(JsonFormatter.Default.Format(request));
            var batch = new SpanBatch();
            using var decoder = new OtlpProtobufDecoder();
            var jsonDecoder = new OtlpJsonDecoder();
            var googleJson = new JsonParser(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));
            var contenders = new (string Name, long Bytes, string Baseline, Action Decode)[]
            {
                ("Google.Protobuf ParseFrom", protobuf.Length, "", () => ExportTraceServiceRequest.Parser.ParseFrom(protobuf)),
                ("TraceStore protobuf", protobuf.Length, "Google.Protobuf ParseFrom", () =>
                {
                    var buffer = new ReadOnlySequence<byte>(protobuf);
                    decoder.Begin(batch);
                    decoder.Decode(ref buffer, isFinalBlock: true);
                }),
                ("Google.Protobuf JsonParser", json.Length, "", () => googleJson.Parse<ExportTraceServiceRequest>(Encoding.UTF8.GetString(json))),
                ("TraceStore JSON", json.Length, "Google.Protobuf JsonParser", () => jsonDecoder.Decode(new ReadOnlySequence<byte>(json), batch)),
            };
            var operations = new long[contenders.Length];
            var elapsed = new TimeSpan[contenders.Length];
            foreach (var contender in contenders)
            {
                contender.Decode();
            }

            var clock = Stopwatch.StartNew();
            var budget = total / payloads.Length;
            while (clock.Elapsed < budget)
            {
                for (var i = 0; i < contenders.Length; i++)
                {
                    var slice = Stopwatch.StartNew();
                    while (slice.Elapsed < Slice)
                    {
                        contenders[i].Decode();
                        operations[i]++;
                    }

                    elapsed[i] += slice.Elapsed;
                }
            }

            for (var i = 0; i < contenders.Length; i++)
            {
                rows.Add(new Row(payload, contenders[i].Name, spans, contenders[i].Bytes, operations[i], elapsed[i], contenders[i].Baseline));
            }
        }

        return rows;
    }

    private static double? Ratio(Row row, List<Row> rows) =>
        rows.FirstOrDefault(r => r.Payload == row.Payload && r.Decoder == row.Baseline) is { } baseline ? row.SpansPerSecond / baseline.SpansPerSecond : null;

    private static void Write(List<Row> rows, string format, TextWriter output)
    {
        if (format == "json")
        {
            using var stream = new MemoryStream();
            using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            {
                json.WriteStartArray();
                foreach (var row in rows)
                {
                    json.WriteStartObject();
                    json.WriteString("payload", row.Payload);
                    json.WriteString("decoder", row.Decoder);
                    json.WriteNumber("spans_per_request", row.Spans);
                    json.WriteNumber("bytes_per_request", row.Bytes);
                    json.WriteNumber("spans_per_second", Math.Round(row.SpansPerSecond));
                    json.WriteNumber("megabytes_per_second", Math.Round(row.MegabytesPerSecond, 1));
                    if (Ratio(row, rows) is { } ratio)
                    {
                        json.WriteNumber("speedup_vs_baseline", Math.Round(ratio, 2));
                    }

                    json.WriteEndObject();
                }

                json.WriteEndArray();
            }

            output.WriteLine(Encoding.UTF8.GetString(stream.ToArray()));
            return;
        }

        output.WriteLine($"{"payload",-8} {"decoder",-28} {"spans/s",12} {"MB/s",9} {"vs Google",10}");
        foreach (var row in rows)
        {
            var ratio = Ratio(row, rows) is { } r ? $"{r:F2}x" : "baseline";
            output.WriteLine($"{row.Payload,-8} {row.Decoder,-28} {row.SpansPerSecond,12:N0} {row.MegabytesPerSecond,9:N1} {ratio,10}");
        }
    }
}
