using System.Net;
using System.Text.Json.Nodes;
using SpotJax.Contracts;
using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;
using SpotJax.Google.Firestore;
using SpotJax.Google.Http;
using SpotJax.Google.Tests.Emulators;

namespace SpotJax.Google.Tests.Firestore;

/// <summary>The job store contract, and what is particular to Firestore, against the emulator.</summary>
[Collection(FirestoreEmulatorCollection.Name)]
public sealed class FirestoreJobStoreTests(FirestoreEmulator emulator) : JobStoreContractTests, IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly List<string> _projects = [];
    private readonly List<HttpClient> _clients = [];

    protected override IJobStore CreateStore() => Open().Store;

    [Fact]
    public async Task ListActiveAsync_MoreJobsThanOnePage_ReturnsEveryActiveJobOnce()
    {
        var (store, _) = Open(pageSize: 7);
        var active = Enum.GetValues<JobState>().Where(s => !s.IsTerminal()).ToArray();
        var terminal = Enum.GetValues<JobState>().Where(s => s.IsTerminal()).ToArray();
        var expected = new List<string>();
        for (var i = 0; i < 30; i++)
        {
            var state = i < 25 ? active[i % active.Length] : terminal[i % terminal.Length];
            var id = TestJobs.NewId();
            Assert.True(await store.TryCreateAsync(TestJobs.Create(id, state), TestJobs.Entry(null, state, "seeded"), None));
            if (i < 25)
            {
                expected.Add(id);
            }
        }

        var listed = await store.ListActiveAsync(None);

        Assert.Equal(expected.Order(StringComparer.Ordinal), listed.Select(j => j.Id).Order(StringComparer.Ordinal));
        Assert.All(listed, j => Assert.False(j.State.IsTerminal()));
    }

    [Fact]
    public async Task GetHistoryAsync_MoreEntriesThanOnePage_ReturnsAllOldestFirst()
    {
        var (store, _) = Open(pageSize: 7);
        var id = TestJobs.NewId();
        await store.TryCreateAsync(TestJobs.Create(id), TestJobs.Entry(null, JobState.Queued, "submitted"), None);
        for (var step = 1; step <= 16; step++)
        {
            var current = (await store.GetAsync(id, None))!;
            Assert.True(await store.TryUpdateAsync(current with { Attempt = step }, current.Revision, TestJobs.Entry(JobState.Queued, JobState.Queued, $"step {step}", step), None));
        }

        var history = await store.GetHistoryAsync(id, None);

        Assert.Equal(["submitted", .. Enumerable.Range(1, 16).Select(s => $"step {s}")], history.Select(h => h.Cause));
    }

    [Fact]
    public async Task TryCreateAsync_FullJob_StoresTypedFirestoreValuesAndTheFirstEvent()
    {
        var (store, project) = Open();
        var id = TestJobs.NewId();
        await store.TryCreateAsync(TestJobs.Create(id, JobState.Running), TestJobs.Entry(null, JobState.Queued, "submitted"), None);

        var fields = (await RawAsync(project, $"jobs/{id}"))["fields"]!;
        var spec = fields["spec"]!["mapValue"]!["fields"]!;
        var history = await RawAsync(project, $"jobs/{id}/events/0000000001");

        Assert.Equal("RUNNING", (string?)fields["state"]!["stringValue"]);
        Assert.Equal("2025-03-14T07:26:53Z", Instant(fields["submittedAt"]!));
        Assert.Equal("5000000000", (string?)fields["lastCheckpointStep"]!["integerValue"]);
        Assert.Equal("2", (string?)fields["attempt"]!["integerValue"]);
        Assert.Equal("nullValue", KindOf(fields["stallWarnedAt"]!));
        Assert.Equal("1", (string?)fields[FirestoreJobStore.HistoryLengthField]!["integerValue"]);
        Assert.Null(fields["revision"]);
        Assert.Equal("--name=with space", (string?)spec["args"]!["arrayValue"]!["values"]![2]!["stringValue"]);
        Assert.Equal("--xla_dump_to=/tmp", (string?)spec["env"]!["mapValue"]!["fields"]!["XLA_FLAGS"]!["stringValue"]);
        Assert.Equal("15", (string?)spec["stall"]!["mapValue"]!["fields"]!["minutes"]!["integerValue"]);
        Assert.Equal("restart", (string?)spec["stall"]!["mapValue"]!["fields"]!["action"]!["stringValue"]);
        // The timestamp keeps the instant to the microsecond; the offset and the 100 ns digit live beside it.
        Assert.Equal("2025-03-14T07:29:53.123456Z", Instant(fields["startedAt"]!));
        Assert.Equal(
            "2025-03-14T09:29:53.1234567+02:00",
            (string?)fields[FirestoreValues.ExactTimesField]!["mapValue"]!["fields"]!["startedAt"]!["stringValue"]);
        Assert.Equal("submitted", (string?)history["fields"]!["cause"]!["stringValue"]);
        Assert.Equal("nullValue", KindOf(history["fields"]!["from"]!));
    }

    [Fact]
    public async Task Deliveries_ClaimAndCompletion_WriteTheExpiryTheTtlPolicyReads()
    {
        var (store, project) = Open();
        var key = $"{TestJobs.NewId()}/2";
        var now = TestJobs.Epoch;

        Assert.Equal(DeliveryClaim.Claimed, await store.TryClaimDeliveryAsync(key, now, now.AddMinutes(1), None));
        var claimed = (await RawAsync(project, $"{FirestoreJobStore.DeliveriesCollection}/{key.Replace('/', '~')}"))["fields"]!;
        await store.CompleteDeliveryAsync(key, "delivered: HTTP 200", now.AddMinutes(1), None);
        var completed = (await RawAsync(project, $"{FirestoreJobStore.DeliveriesCollection}/{key.Replace('/', '~')}"))["fields"]!;

        // A timestamp value (a TTL policy ignores any other type), 8 days after each write.
        Assert.Equal("2025-03-22T07:26:53Z", Instant(claimed[FirestoreJobStore.ExpireAtField]!));
        Assert.Equal("2025-03-22T07:27:53Z", Instant(completed[FirestoreJobStore.ExpireAtField]!));
    }

    [Fact]
    public async Task TryCreateAsync_EnvNamesFirestoreReserves_RoundTrip()
    {
        var (store, project) = Open();
        var job = TestJobs.Create(TestJobs.NewId());
        var env = new Dictionary<string, string> { ["__PRIVATE__"] = "a", ["~TILDE"] = "b", ["PLAIN"] = "c" };
        job = job with { Spec = job.Spec! with { Env = env } };

        Assert.True(await store.TryCreateAsync(job, TestJobs.Entry(null, JobState.Queued, "submitted"), None));

        var stored = (await store.GetAsync(job.Id, None))!;
        Assert.Equal(env.OrderBy(e => e.Key, StringComparer.Ordinal), stored.Spec!.Env.OrderBy(e => e.Key, StringComparer.Ordinal));
        var raw = (await RawAsync(project, $"jobs/{job.Id}"))["fields"]!["spec"]!["mapValue"]!["fields"]!["env"]!["mapValue"]!["fields"]!.AsObject();
        Assert.Equal(["PLAIN", "~__PRIVATE__", "~~TILDE"], raw.Select(f => f.Key).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task TryUpdateAsync_RevisionThatIsNoTimestamp_ReturnsFalse()
    {
        var (store, _) = Open();
        var id = TestJobs.NewId();
        await store.TryCreateAsync(TestJobs.Create(id), TestJobs.Entry(null, JobState.Queued, "submitted"), None);

        Assert.False(await store.TryUpdateAsync(TestJobs.Create(id, JobState.Failed), "not-a-revision", null, None));
        Assert.False(await store.TryUpdateAsync(TestJobs.Create(id, JobState.Failed), "2020-01-01T00:00:00Z", null, None));
        Assert.Equal(JobState.Queued, (await store.GetAsync(id, None))!.State);
    }

    [Fact]
    public async Task TryUpdateAsync_WriteLandsBetweenReadAndCommit_ReturnsFalseAndKeepsTheOtherWrite()
    {
        var project = NewProject();
        var other = emulator.CreateStore(project);
        var id = TestJobs.NewId();
        await other.TryCreateAsync(TestJobs.Create(id), TestJobs.Entry(null, JobState.Queued, "submitted"), None);
        var current = (await other.GetAsync(id, None))!;
        // The competing write goes in after this store's read, just before its commit: the
        // commit's precondition, not the read, has to catch it.
        using var faults = new CommitFaults(beforeFirstCommit: async () =>
            Assert.True(await other.TryUpdateAsync(current with { State = JobState.Cancelling }, current.Revision, TestJobs.Entry(JobState.Queued, JobState.Cancelling, "cancel"), None)));
        var store = Open(project, faults);

        var won = await store.TryUpdateAsync(current with { State = JobState.Provisioning }, current.Revision, TestJobs.Entry(JobState.Queued, JobState.Provisioning, "provision"), None);

        Assert.False(won);
        Assert.Equal(1, faults.Commits);
        Assert.Equal(JobState.Cancelling, (await other.GetAsync(id, None))!.State);
        Assert.Equal(["submitted", "cancel"], (await other.GetHistoryAsync(id, None)).Select(h => h.Cause));
    }

    [Fact]
    public async Task TryUpdateAsync_AnswerLostAfterTheCommitApplied_ReturnsTrueAndWritesOnce()
    {
        var project = NewProject();
        using var faults = new CommitFaults(loseFirstAnswer: true);
        var store = Open(project, faults);
        var id = TestJobs.NewId();
        await emulator.CreateStore(project).TryCreateAsync(TestJobs.Create(id), TestJobs.Entry(null, JobState.Queued, "submitted"), None);
        var current = (await store.GetAsync(id, None))!;

        var won = await store.TryUpdateAsync(current with { State = JobState.Provisioning }, current.Revision, TestJobs.Entry(JobState.Queued, JobState.Provisioning, "provision"), None);

        Assert.True(won);
        Assert.Equal(1, faults.Commits);
        Assert.Equal(["submitted", "provision"], (await store.GetHistoryAsync(id, None)).Select(h => h.Cause));
    }

    [Fact]
    public async Task TryCreateAsync_FirstCommitAborted_RetriesAndCreatesOnce()
    {
        var project = NewProject();
        using var faults = new CommitFaults(abortFirst: true);
        var store = Open(project, faults);
        var id = TestJobs.NewId();

        var created = await store.TryCreateAsync(TestJobs.Create(id), TestJobs.Entry(null, JobState.Queued, "submitted"), None);

        Assert.True(created);
        Assert.Equal(2, faults.Commits);
        Assert.Equal(["submitted"], (await store.GetHistoryAsync(id, None)).Select(h => h.Cause));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }

        foreach (var project in _projects)
        {
            await emulator.WipeAsync(project);
        }
    }

    private (FirestoreJobStore Store, string Project) Open(int pageSize = 300)
    {
        var project = NewProject();
        return (emulator.CreateStore(project, pageSize), project);
    }

    private FirestoreJobStore Open(string project, CommitFaults faults)
    {
        faults.InnerHandler = new HttpClientHandler();
        var http = new HttpClient(faults, disposeHandler: false);
        _clients.Add(http);
        var transport = new GoogleApiTransport(http, new FixedTokenSource(GoogleEndpoints.FirestoreEmulatorToken));
        return new FirestoreJobStore(transport, new FirestoreJobStoreOptions { Project = project, BaseUri = emulator.BaseUri, RetryDelay = TimeSpan.FromMilliseconds(10) });
    }

    private string NewProject()
    {
        var project = FirestoreEmulator.NewProject();
        _projects.Add(project);
        return project;
    }

    private async Task<JsonNode> RawAsync(string project, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, emulator.DocumentUri(project, path));
        request.Headers.Authorization = new("Bearer", GoogleEndpoints.FirestoreEmulatorToken);
        using var response = await emulator.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
    }

    /// <summary>Which of Value's kinds a field holds (the emulator answers <c>"nullValue": null</c> for a null, production <c>"NULL_VALUE"</c>).</summary>
    private static string KindOf(JsonNode value) => Assert.Single(value.AsObject()).Key;

    /// <summary>A typed timestamp value's instant, in one text form whatever digits the server chose.</summary>
    private static string Instant(JsonNode value)
    {
        Assert.True(FirestoreValues.TryParseTimestamp((string?)value["timestampValue"], out var instant));
        return instant.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFF'Z'", System.Globalization.CultureInfo.InvariantCulture);
    }
}
