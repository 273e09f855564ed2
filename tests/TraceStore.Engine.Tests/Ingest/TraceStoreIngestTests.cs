using TraceStore.Engine.Admission;
using TraceStore.Engine.Ingest;
using TraceStore.Engine.Tests.Wal;
using TraceStore.Engine.Wal;
using TraceStore.Protocol.Content;
using TraceStore.Protocol.Otlp;
using TraceStore.OtlpOracle;
using TraceStore.Testing;

namespace TraceStore.Engine.Tests.Ingest;

/// <summary>The ingest API of the facade over real files: outcomes, durability across reopen, and failure mapping.</summary>
public sealed class TraceStoreIngestTests : IDisposable
{
    private readonly TempDirectory _folder = new("store");

    public void Dispose() => _folder.Dispose();

    public static TheoryData<string> CapturedPayloads => TestPayloads.Names();

    [Theory]
    [MemberData(nameof(CapturedPayloads))]
    public async Task Captured_payload_is_accepted_with_its_span_count_and_replayed_after_reopen(string name)
    {
        var file = TestPayloads.Get(name);
        var payload = new OtlpPayload(file.RawBytes, file.Format == "json" ? OtlpPayloadFormat.Json : OtlpPayloadFormat.Protobuf, OtlpContentHeaders.ParseEncoding(file.ContentEncoding));
        await using (var store = Open())
        {
            var result = await store.IngestAsync(payload, "7");
            Assert.Equal(IngestOutcome.Accepted, result.Outcome);
            Assert.Equal(file.SpanCount, result.AcceptedSpans);
            Assert.Equal(0, result.RejectedSpans);
            Assert.Equal(1, result.WalSequence);
        }

        await using var reopened = Open();
        var stats = reopened.GetStats();
        Assert.Equal(1, stats.ReplayedRecords);
        Assert.Equal(file.SpanCount, stats.ReplayedSpans);
        Assert.Equal(1, stats.LastWalSequence);
    }

    [Fact]
    public async Task Ingest_logs_the_body_as_received_with_experiment_and_format()
    {
        var body = OtlpTestRequests.Protobuf(3);
        await using (var store = Open())
        {
            Assert.Equal(IngestOutcome.Accepted, (await store.IngestAsync(Payload(body), "exp-42")).Outcome);
            Assert.Equal(IngestOutcome.Accepted, (await store.IngestAsync(Payload(body))).Outcome);
        }

        var entries = new List<WalEntry>();
        WalRecovery.Scan(new FileWalStorage(_folder.File("wal")), (_, e) => entries.Add(e with { Payload = e.Payload.ToArray() }), repairTornTail: false);
        Assert.Equal(["exp-42", "0"], entries.Select(e => e.ExperimentId));
        Assert.All(entries, e => Assert.Equal(body, e.Payload.ToArray()));
        Assert.All(entries, e => Assert.Equal(WalPayloadFormat.Protobuf, e.Format));
    }

    [Fact]
    public async Task Truncated_body_is_rejected_with_the_decoder_error_and_not_logged()
    {
        var body = OtlpTestRequests.Protobuf(2);
        await using (var store = Open())
        {
            var result = await store.IngestAsync(Payload(body[..^3]));
            Assert.Equal(IngestOutcome.Rejected, result.Outcome);
            Assert.Equal(OtlpRejectReason.Truncated, result.DecodeError!.Reason);
            Assert.False(result.Retryable);
            Assert.Equal(1, store.GetStats().RejectedRequests);
        }

        await using var reopened = Open();
        Assert.Equal(0, reopened.GetStats().ReplayedRecords);
    }

    [Fact]
    public async Task Spans_with_bad_ids_are_partial_success_and_the_rest_is_stored()
    {
        await using var store = Open();
        var result = await store.IngestAsync(Payload(OtlpTestRequests.Protobuf(5, badIds: 2)));
        Assert.Equal(IngestOutcome.Accepted, result.Outcome);
        Assert.Equal(3, result.AcceptedSpans);
        Assert.Equal(2, result.RejectedSpans);
        Assert.Contains("span_id", result.FirstRejection, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Request_whose_spans_are_all_refused_is_answered_without_a_wal_record()
    {
        await using (var store = Open())
        {
            var result = await store.IngestAsync(Payload(OtlpTestRequests.Protobuf(2, badIds: 2)));
            Assert.Equal(IngestOutcome.Accepted, result.Outcome);
            Assert.Equal(0, result.AcceptedSpans);
            Assert.Equal(2, result.RejectedSpans);
            Assert.Equal(0, result.WalSequence);
        }

        await using var reopened = Open();
        Assert.Equal(0, reopened.GetStats().ReplayedRecords);
    }

    [Theory]
    [InlineData("")]
    [InlineData("bad\nid")]
    public async Task Invalid_experiment_id_is_rejected(string experiment)
    {
        await using var store = Open();
        var result = await store.IngestAsync(Payload(OtlpTestRequests.Protobuf(1)), experiment);
        Assert.Equal(IngestOutcome.Rejected, result.Outcome);
        Assert.Null(result.DecodeError);
        Assert.Contains("experiment id", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Full_budget_refuses_as_overloaded_with_retry_after_and_logs_nothing()
    {
        await using (var store = Open(budgetBytes: 4 << 20))
        {
            Assert.True(store.Budget.TryReserve(store.Budget.LimitBytes - 1000));
            var result = await store.IngestAsync(Payload(OtlpTestRequests.Protobuf(10)));
            Assert.Equal(IngestOutcome.Overloaded, result.Outcome);
            Assert.True(result.Retryable);
            Assert.InRange(result.RetryAfter, MemoryBudget.MinRetryAfter, MemoryBudget.MaxRetryAfter);
            Assert.Equal(1, store.GetStats().OverloadedRequests);

            store.Budget.Release(store.Budget.LimitBytes - 1000);
            Assert.Equal(IngestOutcome.Accepted, (await store.IngestAsync(Payload(OtlpTestRequests.Protobuf(10)))).Outcome);

            // What stays counted is the assembler's copy of the spans, until they are sealed.
            Assert.Equal(10, store.GetStats().OpenTraces);
            Assert.True(store.Budget.UsedBytes > 0);
            Assert.Equal(10, store.SealAll());
            Assert.Equal(0, store.Budget.UsedBytes);
        }

        await using var reopened = Open();
        Assert.Equal(1, reopened.GetStats().ReplayedRecords);
    }

    [Fact]
    public async Task Waiting_ingest_waits_for_room_instead_of_refusing()
    {
        await using var store = Open(budgetBytes: 4 << 20);
        Assert.True(store.Budget.TryReserve(store.Budget.LimitBytes - 1000));
        var pending = store.IngestWaitingAsync(Payload(OtlpTestRequests.Protobuf(10))).AsTask();
        Assert.False(pending.IsCompleted);

        store.Budget.Release(store.Budget.LimitBytes - 1000);
        var result = await pending;
        Assert.Equal(IngestOutcome.Accepted, result.Outcome);
        Assert.Equal(10, result.AcceptedSpans);
    }

    [Fact]
    public async Task Second_store_on_the_same_folder_is_refused()
    {
        await using var store = Open();
        var error = Assert.Throws<DataFolderInUseException>(() => Open());
        Assert.Contains(_folder.Path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Failed_fsync_answers_unavailable_not_retryable_and_the_store_turns_unhealthy()
    {
        var storage = new FaultInjectingWalStorage(new FileWalStorage(_folder.File("wal")));
        await using (var store = Open(storage: storage))
        {
            Assert.Equal(IngestOutcome.Accepted, (await store.IngestAsync(Payload(OtlpTestRequests.Protobuf(1)))).Outcome);
            storage.FailNextSync = true;
            var failed = await store.IngestAsync(Payload(OtlpTestRequests.Protobuf(1)));
            Assert.Equal(IngestOutcome.Unavailable, failed.Outcome);
            Assert.False(failed.Retryable);
            Assert.False(store.IsHealthy);
            Assert.NotNull(store.GetStats().Problem);

            var later = await store.IngestAsync(Payload(OtlpTestRequests.Protobuf(1)));
            Assert.Equal(IngestOutcome.Unavailable, later.Outcome);
            Assert.Contains("unhealthy", later.Message, StringComparison.Ordinal);
        }

        await using var reopened = Open();
        Assert.True(reopened.IsHealthy);
        Assert.InRange(reopened.GetStats().ReplayedRecords, 1, 2);
    }

    [Fact]
    public async Task Full_disk_answers_unavailable_retryable_and_ingest_resumes_when_space_returns()
    {
        var storage = new FaultInjectingWalStorage(new FileWalStorage(_folder.File("wal")));
        await using (var store = Open(storage: storage))
        {
            storage.DiskFull = true;
            var failed = await store.IngestAsync(Payload(OtlpTestRequests.Protobuf(1)));
            Assert.Equal(IngestOutcome.Unavailable, failed.Outcome);
            Assert.True(failed.Retryable);
            Assert.True(store.IsHealthy);

            storage.DiskFull = false;
            var retried = await store.IngestAsync(Payload(OtlpTestRequests.Protobuf(1)));
            Assert.Equal(IngestOutcome.Accepted, retried.Outcome);
            Assert.Equal(1, retried.WalSequence);
        }

        await using var reopened = Open();
        Assert.Equal(1, reopened.GetStats().ReplayedRecords);
    }

    [Fact]
    public void Budget_smaller_than_two_requests_is_refused_at_open()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Open(budgetBytes: 100L << 20, maxMessageBytes: 64L << 20));
        Assert.Contains("MemoryBudgetBytes", error.Message, StringComparison.Ordinal);
    }

    private static OtlpPayload Payload(byte[] body) => new(body, OtlpPayloadFormat.Protobuf);

    /// <summary>Opens the store; the largest request defaults to half the budget (at most OTLP's 64 MiB).</summary>
    private TraceStore Open(long budgetBytes = 256L << 20, IWalStorage? storage = null, long? maxMessageBytes = null) =>
        TraceStore.Open(new TraceStoreOptions
        {
            DataDirectory = _folder.Path,
            MemoryBudgetBytes = budgetBytes,
            Decoder = OtlpDecoderOptions.Default with { MaxMessageBytes = maxMessageBytes ?? Math.Min(64L << 20, budgetBytes / 2) },
            WalStorage = storage,
        });
}
