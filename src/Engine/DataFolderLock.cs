namespace TraceStore.Engine;

/// <summary>
/// Keeps a second process (or a second store in this process) from opening the same data folder: two writers would
/// interleave WAL segments and destroy each other's data. Holds <c>LOCK</c> open with <see cref="FileShare.None"/>,
/// which .NET implements on Unix with an exclusive <c>flock</c>; the OS drops it when the process dies, so a crash
/// never leaves a stale lock.
/// </summary>
internal sealed class DataFolderLock : IDisposable
{
    public const string FileName = "LOCK";

    private readonly FileStream _file;

    private DataFolderLock(FileStream file) => _file = file;

    public static DataFolderLock Acquire(string folder)
    {
        var path = Path.Combine(folder, FileName);
        try
        {
            return new DataFolderLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException e)
        {
            throw new DataFolderInUseException($"The data folder {folder} is in use by another TraceStore (its {FileName} file is locked). Stop the other process or use another folder.", e);
        }
    }

    public void Dispose() => _file.Dispose();
}

/// <summary>The data folder is already open in another store.</summary>
public sealed class DataFolderInUseException : IOException
{
    public DataFolderInUseException()
    {
    }

    public DataFolderInUseException(string message)
        : base(message)
    {
    }

    public DataFolderInUseException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
