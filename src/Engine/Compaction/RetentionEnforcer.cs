using TraceStore.DuckDb;
using TraceStore.Engine.Catalog;
using TraceStore.Engine.Segments;

namespace TraceStore.Engine.Compaction;

/// <summary>What one retention pass did: traces it marked deleted for being too old and for being over their
/// experiment's byte cap, segments it dropped because none of their traces was left, and the bytes each capped
/// experiment holds afterwards (<see cref="RetentionPolicy"/> says how they are counted).</summary>
public sealed record RetentionResult(int ExpiredTraces, int OverCapTraces, int SegmentsDropped, IReadOnlyDictionary<string, long> ExperimentBytes);

/// <summary>
/// Finds the traces beyond each experiment's <see cref="RetentionPolicy"/> and marks them deleted in the overlay (reads
/// stop seeing them at once; compaction removes them from the disk). Reads only the <c>traces</c> files (request times)
/// and, for byte caps, the trace-id column of the <c>spans</c> files, under a read lease, in the maintenance loop's
/// DuckDB. Not thread-safe: the maintenance loop runs it.
/// </summary>
internal sealed class RetentionEnforcer : IDisposable
{
    private const string FolderOfFile = "regexp_extract(filename, 'seg-[0-9]{20}')";

    private readonly SegmentCatalog _catalog;
    private readonly RetentionOptions _options;
    private readonly TimeProvider _time;
    private readonly DuckDbConnection _connection;

    /// <param name="database">The maintenance loop's DuckDB (owned by the caller); this opens its own connection.</param>
    public RetentionEnforcer(SegmentCatalog catalog, RetentionOptions options, TimeProvider time, DuckDbDatabase database)
    {
        _catalog = catalog;
        _options = options.Validate();
        _time = time;
        _connection = database.Connect();
    }

    /// <summary>Marks every trace beyond its experiment's policy deleted. Returns (too old, over the cap, bytes of each
    /// capped experiment after).</summary>
    public (int Expired, int OverCap, Dictionary<string, long> Bytes) MarkBeyondPolicies()
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        int expired = 0, overCap = 0;
        var bytes = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var experiment in _catalog.Experiments())
        {
            var policy = _options.For(experiment);
            if (!policy.Limits)
            {
                continue;
            }

            using var lease = _catalog.AcquireReadLease();
            if (policy.MaxAge is { } maxAge)
            {
                expired += _catalog.Overlay.DeleteTraces(experiment, Expired(experiment, now - (long)maxAge.TotalMilliseconds));
            }

            if (policy.MaxBytes is { } cap)
            {
                var (over, kept) = OverCap(experiment, cap);
                overCap += _catalog.Overlay.DeleteTraces(experiment, over);
                bytes[experiment] = kept;
            }
        }

        return (expired, overCap, bytes);
    }

    /// <summary>The bytes charged to the live traces of <paramref name="experimentId"/> (<see cref="RetentionPolicy"/>).</summary>
    public long ExperimentBytes(string experimentId)
    {
        using var lease = _catalog.AcquireReadLease();
        return (long)Math.Round(Charges(experimentId).Sum(c => c.Bytes));
    }

    public void Dispose() => _connection.Dispose();

    /// <summary>Live traces of the experiment whose latest summary's request time is before <paramref name="cutoffMs"/>.
    /// Only segments whose spans start before the cutoff (plus a second: MLflow's millisecond rounding can put a request
    /// time one below the integer quotient) are read: the segment holding a trace's latest summary holds its first span.</summary>
    private List<string> Expired(string experimentId, long cutoffMs)
    {
        if (cutoffMs <= 0)
        {
            return [];
        }

        var segments = _catalog.Candidates(experimentId, toNs: (cutoffMs + 1000) * 1_000_000);
        if (segments.Count == 0)
        {
            return [];
        }

        LoadDeleted(experimentId);
        using var query = _connection.Prepare(
            $"SELECT trace_id FROM (SELECT trace_id, arg_max(request_time_ms, seal_sequence) AS t FROM read_parquet({Files(segments, SegmentFormat.TracesFile)}) " +
            "WHERE experiment_id = $1 GROUP BY trace_id) WHERE t < $2 AND trace_id NOT IN (SELECT trace_id FROM deleted) ORDER BY trace_id");
        query.Bind(1, experimentId);
        query.Bind(2, cutoffMs);
        using var result = query.Execute();
        return [.. result.ReadAllRows().Select(r => (string)r[0]!)];
    }

    /// <summary>The oldest live traces to delete so the rest fit in <paramref name="cap"/>, and the bytes of the rest.</summary>
    private (List<string> Over, long Kept) OverCap(string experimentId, long cap)
    {
        var over = new List<string>();
        double kept = 0;
        foreach (var (traceId, charge) in Charges(experimentId))
        {
            if (over.Count == 0 && kept + charge <= cap)
            {
                kept += charge;
            }
            else
            {
                over.Add(traceId);
            }
        }

        return (over, (long)Math.Round(kept));
    }

    /// <summary>Live traces of the experiment, newest first (request time, then trace id, descending), each with the
    /// bytes charged to it: for every segment holding its spans, segment bytes × its spans there ÷ the segment's spans.</summary>
    private List<(string TraceId, double Bytes)> Charges(string experimentId)
    {
        var segments = _catalog.Candidates(experimentId);
        if (segments.Count == 0)
        {
            return [];
        }

        LoadDeleted(experimentId);
        _connection.Execute("CREATE OR REPLACE TEMP TABLE segment_sizes (f VARCHAR PRIMARY KEY, bytes BIGINT, spans BIGINT)");
        using (var insert = _connection.Prepare("INSERT INTO segment_sizes SELECT unnest($1::VARCHAR[]), unnest($2::BIGINT[]), unnest($3::BIGINT[])"))
        {
            insert.BindList(1, DuckDbLogicalType.Varchar, segments.Select(s => Path.GetFileName(s.Folder)).ToList());
            insert.BindList(2, DuckDbLogicalType.BigInt, segments.Select(s => s.Bytes).ToList());
            insert.BindList(3, DuckDbLogicalType.BigInt, segments.Select(s => s.Spans).ToList());
            insert.ExecuteNonQuery();
        }

        using var query = _connection.Prepare($"""
            WITH parts AS (
                SELECT {FolderOfFile} AS f, trace_id, count(*) AS n
                FROM read_parquet({Files(segments, SegmentFormat.SpansFile)}, filename = true) WHERE experiment_id = $1 GROUP BY ALL),
            charges AS (
                SELECT trace_id, sum(z.bytes * p.n / z.spans) AS bytes FROM parts p JOIN segment_sizes z USING (f) GROUP BY trace_id),
            latest AS (
                SELECT trace_id, arg_max(request_time_ms, seal_sequence) AS t
                FROM read_parquet({Files(segments, SegmentFormat.TracesFile)}) WHERE experiment_id = $1 GROUP BY trace_id)
            SELECT l.trace_id, c.bytes FROM latest l JOIN charges c USING (trace_id)
            WHERE l.trace_id NOT IN (SELECT trace_id FROM deleted)
            ORDER BY l.t DESC, l.trace_id DESC
            """);
        query.Bind(1, experimentId);
        using var result = query.Execute();
        return [.. result.ReadAllRows().Select(r => ((string)r[0]!, (double)r[1]!))];
    }

    private void LoadDeleted(string experimentId)
    {
        _connection.Execute("CREATE OR REPLACE TEMP TABLE deleted (trace_id VARCHAR PRIMARY KEY)");
        using var insert = _connection.Prepare("INSERT INTO deleted SELECT unnest($1::VARCHAR[])");
        insert.BindList(1, DuckDbLogicalType.Varchar, _catalog.Overlay.DeletedTraceIds(experimentId));
        insert.ExecuteNonQuery();
    }

    private static string Files(IEnumerable<SegmentInfo> segments, string name) =>
        "[" + string.Join(", ", segments.Select(s => DuckDbSql.Literal(Path.Combine(s.Folder, name)))) + "]";
}
