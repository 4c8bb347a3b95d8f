using System.Net;
using System.Text.Json.Nodes;
using SpotJax.Contracts;
using SpotJax.Core.Jobs;
using SpotJax.Google.Firestore;
using SpotJax.Google.Http;

namespace SpotJax.Google.Tests.Firestore;

/// <summary>
/// The store's requests and its reading of answers, against JSON fixtures: requests as they are
/// sent (the same shapes the emulator accepts in <see cref="FirestoreJobStoreTests"/>), answers and
/// error envelopes as the emulator returned them.
/// </summary>
public sealed class FirestoreWireFormatTests : IDisposable
{
    private const string JobId = "job-fixture-0000000001";
    private const string WriteId = "5b0f1c2d3e4f40718293a4b5c6d7e8f9";
    private readonly HttpClient _unused = new();
    private readonly FirestoreJobStore _store;

    public FirestoreWireFormatTests() =>
        _store = new FirestoreJobStore(new GoogleApiTransport(_unused, FixedTokenSource.None), new FirestoreJobStoreOptions { Project = "demo", PageSize = 7 });

    [Fact]
    public void CreateCommit_NewJob_MatchesTheFixture()
    {
        var commit = _store.CreateCommit(TestJobs.Create(JobId), TestJobs.Entry(null, JobState.Queued, "submitted"), WriteId);

        AssertJson("commit-create-request.json", commit);
    }

    [Fact]
    public void UpdateCommit_WithHistoryEntry_MatchesTheFixture()
    {
        var job = TestJobs.Create(JobId, JobState.Running) with { Revision = "2026-11-28T18:56:00.538145Z" };

        var commit = _store.UpdateCommit(job, job.Revision, 3, TestJobs.Entry(JobState.Launching, JobState.Running, "workers started", 2), WriteId);

        AssertJson("commit-update-request.json", commit);
    }

    [Fact]
    public void UpdateCommit_WithoutHistoryEntry_WritesOnlyTheJobAndKeepsTheLength()
    {
        var commit = _store.UpdateCommit(TestJobs.Create(JobId), "2026-11-28T18:56:00.538145Z", 3, null, WriteId);

        var write = Assert.Single(commit["writes"]!.AsArray())!;
        Assert.Equal("2026-11-28T18:56:00.538145Z", (string?)write["currentDocument"]!["updateTime"]);
        Assert.Equal("3", (string?)write["update"]!["fields"]![FirestoreJobStore.HistoryLengthField]!["integerValue"]);
    }

    [Fact]
    public void ActiveJobsQuery_AfterADocument_MatchesTheFixture()
    {
        var query = _store.ActiveJobsQuery($"projects/demo/databases/(default)/documents/jobs/{JobId}");

        AssertJson("active-jobs-query.json", query);
    }

    [Fact]
    public void ParseRunQuery_AnswerWithDocuments_ReturnsEachJobAndTheReadTime()
    {
        var (documents, readTime) = FirestoreJobStore.ParseRunQuery(Fixtures.Read("run-query-response.json"));

        Assert.Equal(["job-fixture-0000000001", "job-fixture-0000000002"], documents.Select(d => d.Name.Split('/')[^1]));
        Assert.Equal([JobState.Queued, JobState.Running], documents.Select(d => FirestoreValues.FromFields<Job>(d.Fields!).State));
        Assert.All(documents, d => Assert.NotNull(d.UpdateTime));
        Assert.NotNull(readTime);
    }

    [Fact]
    public void ParseRunQuery_EmptyResult_ReturnsNoDocumentsButTheReadTime()
    {
        var (documents, readTime) = FirestoreJobStore.ParseRunQuery(Fixtures.Read("run-query-empty-response.json"));

        Assert.Empty(documents);
        Assert.Equal("2026-11-28T18:56:00.390676Z", readTime);
    }

    [Theory]
    [InlineData("error-already-exists.json", HttpStatusCode.Conflict, "ALREADY_EXISTS", true)]
    [InlineData("error-aborted.json", HttpStatusCode.Conflict, "ABORTED", false)]
    [InlineData("error-failed-precondition.json", HttpStatusCode.BadRequest, "FAILED_PRECONDITION", true)]
    public void ErrorEnvelope_EmulatorAnswer_IsClassifiedByStatusNotHttpCode(string fixture, HttpStatusCode code, string status, bool lostRace)
    {
        var error = GoogleApiTransport.ToException(code, Fixtures.Read(fixture));

        Assert.Equal(status, error.Status);
        Assert.Equal(lostRace, FirestoreJobStore.IsPreconditionFailure(error));
        Assert.Equal(!lostRace, error.IsTransient);
    }

    [Fact]
    public void FromFields_TimestampChangedAfterTheWrite_TheTimestampWinsOverTheExactText()
    {
        var job = TestJobs.Create(JobId);
        var fields = FirestoreValues.ToFields(job);
        fields["startedAt"] = new JsonObject { ["timestampValue"] = "2030-01-02T03:04:05.000006Z" };

        var read = FirestoreValues.FromFields<Job>(fields);

        Assert.Equal(new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero).AddTicks(60), read.StartedAt);
        Assert.Equal(TimeSpan.Zero, read.StartedAt!.Value.Offset);
        Assert.Equal(job.LastCheckpointAt!.Value.Offset, read.LastCheckpointAt!.Value.Offset);
    }

    [Theory]
    [InlineData("2026-11-28T18:56:00Z", 0)]
    [InlineData("2026-11-28T18:56:00.5Z", 5_000_000)]
    [InlineData("2026-11-28T18:56:00.538145Z", 5_381_450)]
    [InlineData("2026-11-28T18:56:00.538145678Z", 5_381_456)]
    public void TryParseTimestamp_ZeroToNineDigits_ReadsTheInstant(string text, long ticksPastTheSecond)
    {
        Assert.True(FirestoreValues.TryParseTimestamp(text, out var value));

        Assert.Equal(new DateTimeOffset(2026, 11, 28, 18, 56, 0, TimeSpan.Zero).AddTicks(ticksPastTheSecond), value);
    }

    public void Dispose() => _unused.Dispose();

    private static void AssertJson(string fixture, JsonNode actual)
    {
        var expected = JsonNode.Parse(Fixtures.Read(fixture));
        Assert.True(JsonNode.DeepEquals(expected, actual), $"{fixture} differs; the request is:\n{actual.ToJsonString(new() { WriteIndented = true })}");
    }
}
