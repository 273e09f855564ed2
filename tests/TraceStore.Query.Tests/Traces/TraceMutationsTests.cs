using TraceStore.Engine.Catalog;
using TraceStore.Query.Traces;
using TraceStore.Testing;

namespace TraceStore.Query.Tests.Traces;

public sealed class TraceMutationsTests : IDisposable
{
    private const long BaseMs = SealedTraces.BaseMs;
    private readonly TempDirectory _folder = new("trace-mutations");
    private SegmentCatalog _catalog;
    private TraceReader _reader;

    public TraceMutationsTests()
    {
        _catalog = SealedTraces.Create(_folder.Path);
        _reader = new TraceReader(_catalog);
    }

    public void Dispose()
    {
        _reader.Dispose();
        _catalog.Dispose();
        _folder.Dispose();
    }

    [Fact]
    public void Tag_set_after_sealing_is_read_back_and_survives_reopening()
    {
        Mutations().SetTag(Id(1), "reviewed by", "ana");
        Assert.Equal("ana", _reader.Get(Id(1))!.Summary.Tags["reviewed by"]);

        Reopen();
        Assert.Equal("ana", _reader.Get(Id(1))!.Summary.Tags["reviewed by"]);
        Assert.False(_reader.Get(Id(2))!.Summary.Tags.ContainsKey("reviewed by"));
    }

    [Fact]
    public void Tag_value_is_cut_to_8000_characters()
    {
        Mutations().SetTag(Id(1), "note", new string('v', 9000));
        Assert.Equal(8000, _reader.Get(Id(1))!.Summary.Tags["note"].Length);
    }

    [Theory]
    [InlineData("a*b", "may only contain")]
    [InlineData("../x", "path segments")]
    [InlineData("/abs", "absolute paths")]
    [InlineData("", "Missing value for required parameter 'key'")]
    public void Invalid_tag_key_is_refused_with_mlflows_rule(string key, string message)
    {
        var error = Assert.Throws<TraceStoreQueryException>(() => Mutations().SetTag(Id(1), key, "v"));
        Assert.Equal(QueryErrorCode.InvalidParameterValue, error.Code);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tag_key_of_251_characters_is_refused()
    {
        var error = Assert.Throws<TraceStoreQueryException>(() => Mutations().SetTag(Id(1), new string('k', 251), "v"));
        Assert.Equal("'key' exceeds the maximum length of 250 characters", error.Message);
    }

    [Fact]
    public void Tag_on_an_unknown_trace_is_not_found()
    {
        var error = Assert.Throws<TraceStoreQueryException>(() => Mutations().SetTag(Id(99), "k", "v"));
        Assert.Equal(QueryErrorCode.ResourceDoesNotExist, error.Code);
        Assert.Equal($"Trace with ID '{Id(99)}' not found.", error.Message);
    }

    [Fact]
    public void Sealed_tag_can_be_deleted_once_and_then_is_not_found()
    {
        Assert.True(_reader.Get(Id(1))!.Summary.Tags.ContainsKey("mlflow.traceName"));
        Mutations().DeleteTag(Id(1), "mlflow.traceName");
        Assert.False(_reader.Get(Id(1))!.Summary.Tags.ContainsKey("mlflow.traceName"));

        var error = Assert.Throws<TraceStoreQueryException>(() => Mutations().DeleteTag(Id(1), "mlflow.traceName"));
        Assert.Equal($"No trace tag with key 'mlflow.traceName' for trace with ID '{Id(1)}'", error.Message);
    }

    [Fact]
    public void Deleting_by_ids_deletes_only_existing_traces_of_the_experiment()
    {
        Assert.Equal(2, Mutations().DeleteTraces("exp", [Id(1), Id(2), Id(4), Id(99)]));
        Assert.Null(_reader.Get(Id(1)));
        Assert.Null(_reader.Get(Id(2)));
        Assert.NotNull(_reader.Get(Id(3)));
        Assert.NotNull(_reader.Get(Id(4)));
        Assert.Equal(0, Mutations().DeleteTraces("exp", [Id(1)]));

        Reopen();
        Assert.Null(_reader.Get(Id(1)));
    }

    [Fact]
    public void Deleting_by_timestamp_is_inclusive_and_takes_the_oldest_first()
    {
        Assert.Equal(1, Mutations().DeleteTraces("exp", BaseMs + 20, maxTraces: 1));
        Assert.Null(_reader.Get(Id(1)));
        Assert.NotNull(_reader.Get(Id(2)));

        Assert.Equal(1, Mutations().DeleteTraces("exp", BaseMs + 20, maxTraces: null));
        Assert.Null(_reader.Get(Id(2)));
        Assert.NotNull(_reader.Get(Id(3)));
        Assert.NotNull(_reader.Get(Id(4)));

        var error = Assert.Throws<TraceStoreQueryException>(() => Mutations().DeleteTraces("exp", BaseMs, maxTraces: 0));
        Assert.Equal(QueryErrorCode.InvalidParameterValue, error.Code);
    }

    [Fact]
    public void Traces_link_to_a_run_once_and_the_link_survives_reopening()
    {
        Mutations().LinkToRun("run-1", [Id(1), Id(2)]);
        Mutations().LinkToRun("run-1", [Id(1)]);
        Mutations().LinkToRun("run-2", [Id(1)]);

        Reopen();
        Assert.Equal(["run-1", "run-2"], _catalog.Overlay.RunsOf(Id(1)));
        Assert.Equal(["run-1"], _catalog.Overlay.RunsOf(Id(2)));
        Assert.Empty(_catalog.Overlay.RunsOf(Id(3)));
    }

    [Fact]
    public void Linking_more_than_100_traces_or_an_unknown_trace_is_refused()
    {
        var tooMany = Assert.Throws<TraceStoreQueryException>(() => Mutations().LinkToRun("run", [.. Enumerable.Range(0, 101).Select(i => Id(1))]));
        Assert.Equal("Cannot link more than 100 traces to a run in a single request. Provided 101 traces.", tooMany.Message);
        var unknown = Assert.Throws<TraceStoreQueryException>(() => Mutations().LinkToRun("run", [Id(1), Id(99)]));
        Assert.Equal(QueryErrorCode.ResourceDoesNotExist, unknown.Code);
        Assert.Empty(_catalog.Overlay.RunsOf(Id(1)));
    }

    private static string Id(int trace) => SealedTraces.Id(trace);

    private TraceMutations Mutations() => new(_catalog, _reader);

    private void Reopen()
    {
        _reader.Dispose();
        _catalog.Dispose();
        _catalog = SegmentCatalog.Open(_folder.Path);
        _reader = new TraceReader(_catalog);
    }
}
