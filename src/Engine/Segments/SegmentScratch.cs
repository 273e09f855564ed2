using TraceStore.DuckDb;

namespace TraceStore.Engine.Segments;

/// <summary>What writing segment files needs, shared by the writer and the compactor: an in-memory DuckDB with a hard
/// memory limit that spills to a folder, and the fsync of every file of a finished segment folder.</summary>
internal static class SegmentScratch
{
    /// <remarks>Insertion order is preserved: the writer's and the compactor's COPYs stream rows already in order, and
    /// a merge reads its inputs in file order.</remarks>
    public static DuckDbDatabase OpenDatabase(long memoryLimitBytes, string spillFolder) =>
        DuckDbDatabase.OpenInMemory(new DuckDbDatabaseOptions
        {
            Threads = 1,
            MemoryLimitBytes = memoryLimitBytes,
            Settings = new Dictionary<string, string>
            {
                ["temp_directory"] = spillFolder,
                ["preserve_insertion_order"] = "true",

                // DuckDB's jemalloc keeps freed pages resident (measured: 75-120 MiB resident for 25-85 MiB allocated
                // across seals). Flushing after every task and after every bulk free (dropping the staging tables)
                // gives them back: 36 MiB resident at peak. A seal is a few statements, so the cost is not measurable.
                ["allocator_flush_threshold"] = "1MB",
                ["allocator_bulk_deallocation_flush_threshold"] = "1MB",
            },
        });

    /// <summary>The spill folder of a store whose segments live in <paramref name="segmentsFolder"/>.</summary>
    public static string SpillFolder(string segmentsFolder) => Path.Combine(Path.GetDirectoryName(Path.GetFullPath(segmentsFolder))!, "tmp");

    /// <summary>fsyncs every file in <paramref name="folder"/>; returns their total bytes.</summary>
    public static long SyncFiles(string folder)
    {
        long bytes = 0;
        foreach (var path in Directory.GetFiles(folder))
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            file.Flush(flushToDisk: true);
            bytes += file.Length;
        }

        return bytes;
    }
}
