using System.Text;
using TraceStore.DuckDb;

namespace TraceStore.Engine.Segments;

/// <summary>
/// The tag changes a merge folds into its traces file, per trace: for each changed key the latest change (a set value,
/// or a deletion), from the overlay's snapshot and the changes earlier merges folded into the inputs. Applied to a
/// summary's <c>tags</c> map as the MLflow semantics of set/delete-tag ask: the keys changed are removed from the map,
/// the values set are added, and the result is ordered by key (UTF-8 bytes, as DuckDB orders VARCHAR), so a folded
/// map reads the same whichever merge folded it. Small: one entry per changed (trace, key).
/// </summary>
internal sealed class TagFolds
{
    private readonly Dictionary<string, List<(byte[] Key, byte[]? Value)>> _changes;
    private readonly TraceIdSet _traces;

    /// <param name="changes">(trace id, key, value, deleted), the latest change of each (trace, key).</param>
    public TagFolds(IEnumerable<(string TraceId, string Key, string? Value, bool Deleted)> changes)
    {
        _changes = new Dictionary<string, List<(byte[], byte[]?)>>(StringComparer.Ordinal);
        foreach (var (traceId, key, value, deleted) in changes)
        {
            if (!_changes.TryGetValue(traceId, out var list))
            {
                _changes[traceId] = list = [];
            }

            list.Add((Encoding.UTF8.GetBytes(key), deleted ? null : Encoding.UTF8.GetBytes(value ?? "")));
        }

        _traces = new TraceIdSet(_changes.Keys);
    }

    public int Count => _changes.Count;

    /// <summary>The folded tags of the trace <paramref name="traceId"/> whose stored map is row <paramref name="row"/>
    /// of <paramref name="tags"/> (a MAP(VARCHAR, VARCHAR) vector; NULL counts as empty); null when the trace has no
    /// change, so its stored map is kept as it is.</summary>
    public List<(byte[] Key, byte[]? Value)>? Apply(ReadOnlySpan<byte> traceId, DuckDbVector tags, int row)
    {
        if (!_traces.Contains(traceId))
        {
            return null;
        }

        var changes = _changes[Encoding.UTF8.GetString(traceId)];
        var folded = new List<(byte[] Key, byte[]? Value)>();
        if (!tags.IsNull(row))
        {
            var (offset, length) = tags.GetListEntry(row);
            var entries = tags.GetChild();
            var keys = entries.GetField(0);
            var values = entries.GetField(1);
            for (var i = offset; i < offset + length; i++)
            {
                var key = keys.GetBytes(i).ToArray();
                if (!changes.Exists(change => key.AsSpan().SequenceEqual(change.Key)))
                {
                    folded.Add((key, values.IsNull(i) ? null : values.GetBytes(i).ToArray()));
                }
            }
        }

        folded.AddRange(changes.Where(change => change.Value is not null));
        folded.Sort((a, b) => a.Key.AsSpan().SequenceCompareTo(b.Key));
        return folded;
    }
}
