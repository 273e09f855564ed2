using System.Globalization;
using TraceStore.DuckDb;

namespace TraceStore.Engine.Catalog;

/// <summary>
/// The catalog database's tables and its format version, with the migration from older versions. Version 2 added the
/// tag overlay's change sequence (so compaction can fold the changes it read and keep later ones) and the list of
/// segment folders replaced by compaction whose deletion is pending (<c>retired_segments</c>). Opening a version 1
/// catalog migrates it in place, in one transaction; a version newer than this build's is refused.
/// </summary>
internal static class CatalogSchema
{
    public const int FormatVersion = 2;

    private const string Tables = """
        CREATE TABLE IF NOT EXISTS catalog_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
        CREATE TABLE IF NOT EXISTS segments (
            seal_sequence BIGINT PRIMARY KEY, folder VARCHAR NOT NULL, format_version INTEGER NOT NULL,
            experiments VARCHAR[] NOT NULL, traces BIGINT NOT NULL, spans BIGINT NOT NULL,
            min_trace_id VARCHAR NOT NULL, max_trace_id VARCHAR NOT NULL, min_start_ns BIGINT NOT NULL, max_start_ns BIGINT NOT NULL,
            bytes BIGINT NOT NULL, committed_unix_ms BIGINT NOT NULL);
        CREATE TABLE IF NOT EXISTS trace_index (trace_id VARCHAR NOT NULL, seal_sequence BIGINT NOT NULL, PRIMARY KEY (trace_id, seal_sequence));
        CREATE TABLE IF NOT EXISTS retired_segments (folder VARCHAR PRIMARY KEY, seal_sequence BIGINT NOT NULL, retired_unix_ms BIGINT NOT NULL);
        """;

    /// <summary>Creates what is missing and brings an older catalog to <see cref="FormatVersion"/>.</summary>
    public static void Apply(DuckDbConnection connection)
    {
        connection.Execute(Tables);
        connection.Execute(TraceOverlay.Schema);
        connection.Execute(AssessmentTable.Schema);
        using var read = connection.Query("SELECT value FROM catalog_meta WHERE key = 'format_version'");
        var rows = read.ReadAllRows();
        if (rows.Count == 0)
        {
            // A new catalog: every table was just created in the current form.
            SetVersion(connection);
            return;
        }

        var version = int.Parse((string)rows[0][0]!, CultureInfo.InvariantCulture);
        if (version > FormatVersion)
        {
            throw new InvalidDataException($"The catalog was written in format version {version}; this build reads version {FormatVersion} and older. Use a newer TraceStore.");
        }

        if (version < 2)
        {
            MigrateFrom1(connection);
        }
    }

    /// <summary>Version 1 → 2: existing tag changes get change sequence numbers.</summary>
    private static void MigrateFrom1(DuckDbConnection connection)
    {
        connection.Execute("BEGIN TRANSACTION");
        try
        {
            connection.Execute("ALTER TABLE tag_overlay ADD COLUMN change_seq BIGINT");
            // One change per (trace, key) exists, so their relative order does not matter; every later change gets a
            // higher number from the same sequence.
            connection.Execute("UPDATE tag_overlay SET change_seq = nextval('tag_change_seq')");
            SetVersion(connection);
            connection.Execute("COMMIT");
        }
        catch
        {
            connection.Execute("ROLLBACK");
            throw;
        }
    }

    private static void SetVersion(DuckDbConnection connection)
    {
        using var upsert = connection.Prepare("INSERT INTO catalog_meta VALUES ('format_version', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value");
        upsert.Bind(1, FormatVersion.ToString(CultureInfo.InvariantCulture));
        upsert.ExecuteNonQuery();
    }
}
