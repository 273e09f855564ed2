using System.Buffers.Binary;
using TraceStore.Engine.Wal;

namespace TraceStore.Engine.Tests.Wal;

/// <summary>
/// Wraps the real file storage (real files, real fsync) and records every append (with the record sequences it
/// carried) and every sync in order, and can inject failures: a failing fsync, a failing or short write, a full disk.
/// </summary>
internal sealed class FaultInjectingWalStorage(IWalStorage inner) : DelegatingWalStorage(inner)
{
    private readonly object _gate = new();
    private readonly List<string> _log = [];

    /// <summary>The next Sync throws EIO.</summary>
    public bool FailNextSync { get; set; }

    /// <summary>Appends throw EIO after writing this many bytes of the data (-1: off).</summary>
    public int ShortWriteBytes { get; set; } = -1;

    /// <summary>While set, appends write half their data and throw ENOSPC.</summary>
    public bool DiskFull { get; set; }

    /// <summary>When set, every Sync first waits for this gate (to hold a group commit open deterministically).</summary>
    public ManualResetEventSlim? SyncGate { get; set; }

    /// <summary>Signalled when a Sync starts waiting on <see cref="SyncGate"/>.</summary>
    public ManualResetEventSlim SyncWaiting { get; } = new();

    public int Syncs { get; private set; }

    public IReadOnlyList<string> Log
    {
        get
        {
            lock (_gate)
            {
                return [.. _log];
            }
        }
    }

    public int LogLength
    {
        get
        {
            lock (_gate)
            {
                return _log.Count;
            }
        }
    }

    protected override IWalFile WrapFile(IWalFile file) => new File(this, file);

    private void Record(string entry)
    {
        lock (_gate)
        {
            _log.Add(entry);
        }
    }

    private sealed class File(FaultInjectingWalStorage owner, IWalFile inner) : DelegatingWalFile(inner)
    {
        public override void Append(ReadOnlySpan<byte> data)
        {
            if (owner.DiskFull)
            {
                Inner.Append(data[..(data.Length / 2)]);
                throw new IOException("No space left on device", 28);
            }

            if (owner.ShortWriteBytes >= 0 && owner.ShortWriteBytes < data.Length)
            {
                Inner.Append(data[..owner.ShortWriteBytes]);
                throw new IOException("Input/output error", 5);
            }

            Inner.Append(data);
            owner.Record($"append {Inner.Name} {string.Join(',', Sequences(data))}");
        }

        public override void Sync()
        {
            if (owner.FailNextSync)
            {
                owner.FailNextSync = false;
                owner.Record("sync-failed");
                throw new IOException("Input/output error", 5);
            }

            if (owner.SyncGate is { } gate)
            {
                owner.SyncWaiting.Set();
                gate.Wait(TimeSpan.FromSeconds(30));
            }

            owner.Record("sync-start");
            Inner.Sync();
            owner.Syncs++;
            owner.Record("sync");
        }

        /// <summary>The sequences of the records in an append (a segment header carries none).</summary>
        private static List<long> Sequences(ReadOnlySpan<byte> data)
        {
            var sequences = new List<long>();
            if (data.Length >= WalFormat.SegmentHeaderSize && data[..5].SequenceEqual("TSWAL"u8))
            {
                return sequences;
            }

            var offset = 0;
            while (offset + WalFormat.RecordHeaderSize + 8 <= data.Length)
            {
                var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(data[offset..]);
                sequences.Add(BinaryPrimitives.ReadInt64LittleEndian(data[(offset + WalFormat.RecordHeaderSize)..]));
                offset += WalFormat.RecordHeaderSize + length;
            }

            return sequences;
        }
    }
}
