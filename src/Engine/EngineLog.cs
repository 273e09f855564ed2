using Microsoft.Extensions.Logging;

namespace TraceStore.Engine;

/// <summary>The engine's log messages (source-generated: no boxing, no formatting unless the level is on).</summary>
internal static partial class EngineLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "WAL segment {Segment}: cut a torn tail of {DroppedBytes} bytes at offset {Offset} ({Reason}); it was never acknowledged")]
    public static partial void TornTailTruncated(ILogger logger, string segment, long offset, long droppedBytes, string reason);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Replayed {Records} WAL records ({Bytes} bytes, {Spans} spans) in {ElapsedMs} ms")]
    public static partial void Replayed(ILogger logger, long records, long bytes, long spans, long elapsedMs);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "WAL record {Sequence} no longer decodes under the current limits and is skipped at replay: {Error}")]
    public static partial void ReplayRecordRefused(ILogger logger, long sequence, string error);

    [LoggerMessage(EventId = 4, Level = LogLevel.Critical, Message = "The write-ahead log stopped: {Error}. The store refuses writes until it is restarted")]
    public static partial void WalStopped(ILogger logger, string error);

    [LoggerMessage(EventId = 5, Level = LogLevel.Error, Message = "Writing a segment of {Traces} traces failed, retrying on the next round (the traces stay in the WAL and in memory): {Error}")]
    public static partial void SealFailed(ILogger logger, int traces, string error);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "Removed segment folder {Folder}: it was never committed to the catalog (its traces are replayed from the WAL)")]
    public static partial void UncommittedSegmentRemoved(ILogger logger, string folder);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "WAL checkpoint to sequence {Sequence} failed, retrying after the next seal: {Error}")]
    public static partial void CheckpointFailed(ILogger logger, long sequence, string error);

    [LoggerMessage(EventId = 8, Level = LogLevel.Warning, Message = "Removed segment folder {Folder}: compaction replaced it before the store last closed")]
    public static partial void RetiredSegmentRemoved(ILogger logger, string folder);

    [LoggerMessage(EventId = 9, Level = LogLevel.Error, Message = "A compaction or retention pass failed, retrying next round (nothing it did not commit is visible): {Error}")]
    public static partial void MaintenanceFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "Merged {Inputs} segments ({InputBytes} bytes) into segment {SealSequence} ({OutputBytes} bytes)")]
    public static partial void SegmentsMerged(ILogger logger, int inputs, long inputBytes, long sealSequence, long outputBytes);

    [LoggerMessage(EventId = 11, Level = LogLevel.Information, Message = "Retention deleted {Expired} traces past their age and {OverCap} over their byte cap; dropped {Segments} segments")]
    public static partial void RetentionApplied(ILogger logger, int expired, int overCap, int segments);

    [LoggerMessage(EventId = 12, Level = LogLevel.Information, Message = "Merges put off: ingest was short of memory since the last round ({Segments} segments; merging anyway after {MaxDeferralSeconds} s of this)")]
    public static partial void MergesDeferred(ILogger logger, int segments, double maxDeferralSeconds);
}
