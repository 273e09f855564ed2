using Google.Protobuf;
using TraceStore.OtlpOracle;

namespace TraceStore.Server.Cli;

/// <summary>
/// Distinct benchmark requests of one payload kind (one seed each), handed out in turn, each renewed (new trace and
/// span ids) before use. Distinct content matters for bytes on disk: a segment made of one request repeated with new
/// ids holds each attribute value and each prompt many times over, which Parquet's dictionaries store once (a 64 MiB
/// GenAI segment of one repeated request took a tenth of the bytes of distinct requests). With <see cref="Count"/>
/// distinct requests, a default-size segment (about 24 small or 40 GenAI requests) repeats none.
/// </summary>
internal sealed class BenchRequests
{
    public const int Count = 64;
    private readonly RenewableRequest[] _requests;
    private int _next;

    /// <param name="count">Distinct requests (<see cref="Count"/> unless a test needs fewer: each takes ~0.1 s to
    /// build in a Debug build).</param>
    public BenchRequests(string kind, int spansPerTrace, int firstSeed = 1, int count = Count) =>
        _requests = [.. Enumerable.Range(firstSeed, count).Select(seed => new RenewableRequest(OtlpBenchmarkPayloads.Create(kind, seed, spansPerTrace).ToByteArray()))];

    /// <summary>OTLP/protobuf bytes per span, over all the requests.</summary>
    public double BytesPerSpan => _requests.Sum(r => (double)r.Body.Length) / _requests.Sum(r => r.Spans);

    /// <summary>The next request, with new ids. Its body is valid until this request comes round again.</summary>
    public RenewableRequest Next()
    {
        var request = _requests[_next];
        _next = (_next + 1) % _requests.Length;
        request.Renew();
        return request;
    }
}
