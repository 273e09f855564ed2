namespace TraceStore.Engine.Wal;

/// <summary>
/// Passes every call to another storage; derive from it to observe or alter a few operations (counting fsyncs,
/// injecting faults) while files stay real. Files opened for writing come back wrapped by <see cref="WrapFile"/>.
/// </summary>
public abstract class DelegatingWalStorage(IWalStorage inner) : IWalStorage
{
    protected IWalStorage Inner => inner;

    public virtual IReadOnlyList<string> List() => inner.List();

    public virtual IWalFile Create(string name) => WrapFile(inner.Create(name));

    public virtual IWalFile OpenRead(string name) => inner.OpenRead(name);

    public virtual IWalFile OpenWrite(string name) => WrapFile(inner.OpenWrite(name));

    public virtual void Delete(string name) => inner.Delete(name);

    public virtual void SyncDirectory() => inner.SyncDirectory();

    /// <summary>Wraps a writable file; the default keeps it as it is.</summary>
    protected virtual IWalFile WrapFile(IWalFile file) => file;
}

/// <summary>Passes every call to another file; derive from it to observe or alter a few operations.</summary>
public abstract class DelegatingWalFile(IWalFile inner) : IWalFile
{
    protected IWalFile Inner => inner;

    public string Name => inner.Name;

    public long Length => inner.Length;

    public virtual void Append(ReadOnlySpan<byte> data) => inner.Append(data);

    public virtual void Sync() => inner.Sync();

    public int Read(long offset, Span<byte> destination) => inner.Read(offset, destination);

    public virtual void Truncate(long length) => inner.Truncate(length);

    public void Dispose()
    {
        inner.Dispose();
        GC.SuppressFinalize(this);
    }
}
