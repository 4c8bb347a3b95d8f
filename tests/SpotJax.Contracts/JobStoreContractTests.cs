using System.Text.Json;
using SpotJax.Core;
using SpotJax.Core.Events;
using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;

namespace SpotJax.Contracts;

/// <summary>
/// What every <see cref="IJobStore"/> must do. Each implementation (SQLite, Firestore) runs these
/// through a subclass that supplies a fresh, empty store.
/// </summary>
public abstract class JobStoreContractTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    /// <summary>A new store over empty storage; the subclass cleans it up.</summary>
    protected abstract IJobStore CreateStore();

    [Fact]
    public async Task GetAsync_AfterCreate_ReturnsEveryFieldWithARevision()
    {
        var store = CreateStore();
        var job = TestJobs.Create(TestJobs.NewId(), JobState.Running);

        Assert.True(await store.TryCreateAsync(job, TestJobs.Entry(null, JobState.Queued, "submitted"), None));
        var stored = await store.GetAsync(job.Id, None);

        Assert.NotNull(stored);
        Assert.NotEqual("", stored.Revision);
        Assert.Equal(Json(job), Json(stored with { Revision = job.Revision }));
        Assert.Equal(["--steps", "1000", "--name=with space"], stored.Spec!.Args);
        Assert.Equal("--xla_dump_to=/tmp", stored.Spec.Env["XLA_FLAGS"]);
        Assert.Equal(job.SubmittedAt, stored.SubmittedAt);
        Assert.Equal(job.SubmittedAt.Offset, stored.SubmittedAt.Offset);
        Assert.Equal(job.StartedAt!.Value.Ticks, stored.StartedAt!.Value.Ticks);
        Assert.Equal(job.LaunchLeaseUntil!.Value.Ticks, stored.LaunchLeaseUntil!.Value.Ticks);
        Assert.Equal(job.AgentsStartedAt!.Value.Ticks, stored.AgentsStartedAt!.Value.Ticks);
        Assert.Equal([0, 1, 2, 3], stored.PreparedWorkers);
        Assert.Equal(JobState.Running, stored.State);
    }

    [Fact]
    public async Task TryCreateAsync_ExistingId_ReturnsFalseAndKeepsTheFirstDocument()
    {
        var store = CreateStore();
        var id = TestJobs.NewId();
        Assert.True(await store.TryCreateAsync(TestJobs.Create(id), TestJobs.Entry(null, JobState.Queued, "first"), None));

        var second = TestJobs.Create(id, JobState.Rejected) with { Submission = "gcs:other" };
        Assert.False(await store.TryCreateAsync(second, TestJobs.Entry(null, JobState.Rejected, "second"), None));

        var stored = await store.GetAsync(id, None);
        Assert.Equal(JobState.Queued, stored!.State);
        Assert.Equal($"pubsub:{id}", stored.Submission);
        var history = await store.GetHistoryAsync(id, None);
        Assert.Equal(["first"], history.Select(h => h.Cause));
    }

    [Fact]
    public async Task TryUpdateAsync_CurrentRevision_WritesAndChangesRevision()
    {
        var store = CreateStore();
        var id = TestJobs.NewId();
        await store.TryCreateAsync(TestJobs.Create(id), TestJobs.Entry(null, JobState.Queued, "submitted"), None);
        var current = (await store.GetAsync(id, None))!;

        var updated = current with { State = JobState.Provisioning, Attempt = 3 };
        Assert.True(await store.TryUpdateAsync(updated, current.Revision, TestJobs.Entry(JobState.Queued, JobState.Provisioning, "provision", 3), None));

        var stored = (await store.GetAsync(id, None))!;
        Assert.Equal(JobState.Provisioning, stored.State);
        Assert.Equal(3, stored.Attempt);
        Assert.NotEqual(current.Revision, stored.Revision);
    }

    [Fact]
    public async Task TryUpdateAsync_StaleRevision_ReturnsFalseAndWritesNothing()
    {
        var store = CreateStore();
        var id = TestJobs.NewId();
        await store.TryCreateAsync(TestJobs.Create(id), TestJobs.Entry(null, JobState.Queued, "submitted"), None);
        var stale = (await store.GetAsync(id, None))!;
        Assert.True(await store.TryUpdateAsync(stale with { State = JobState.Provisioning }, stale.Revision, null, None));

        var lost = await store.TryUpdateAsync(
            stale with { State = JobState.Cancelled }, stale.Revision, TestJobs.Entry(JobState.Queued, JobState.Cancelled, "late"), None);

        Assert.False(lost);
        Assert.Equal(JobState.Provisioning, (await store.GetAsync(id, None))!.State);
        Assert.Equal(["submitted"], (await store.GetHistoryAsync(id, None)).Select(h => h.Cause));
    }

    [Fact]
    public async Task TryUpdateAsync_MissingJob_ReturnsFalse()
    {
        var store = CreateStore();
        var job = TestJobs.Create(TestJobs.NewId());

        Assert.False(await store.TryUpdateAsync(job, "1", TestJobs.Entry(null, JobState.Queued, "ghost"), None));
        Assert.Null(await store.GetAsync(job.Id, None));
        Assert.Empty(await store.GetHistoryAsync(job.Id, None));
    }

    [Fact]
    public async Task TryUpdateAsync_ConcurrentWritersWithOneRevision_ExactlyOneWinsEachRoundAndHistoryFollowsTheWinners()
    {
        var store = CreateStore();
        var id = TestJobs.NewId();
        await store.TryCreateAsync(TestJobs.Create(id), TestJobs.Entry(null, JobState.Queued, "submitted"), None);
        var winners = new List<string>();

        for (var round = 1; round <= 20; round++)
        {
            var current = (await store.GetAsync(id, None))!;
            var writers = Enumerable.Range(0, 2).Select(w =>
            {
                var cause = $"round {round} writer {w}";
                var entry = TestJobs.Entry(current.State, JobState.Running, cause, round);
                return Task.Run(async () => (cause, won: await store.TryUpdateAsync(current with { Attempt = round, LastError = cause }, current.Revision, entry, None)));
            });

            var results = await Task.WhenAll(writers);

            var winner = Assert.Single(results, r => r.won);
            winners.Add(winner.cause);
            var stored = (await store.GetAsync(id, None))!;
            Assert.Equal(winner.cause, stored.LastError);
            Assert.Equal(round, stored.Attempt);
        }

        var history = await store.GetHistoryAsync(id, None);
        Assert.Equal(["submitted", .. winners], history.Select(h => h.Cause));
    }

    [Fact]
    public async Task GetHistoryAsync_SeveralTransitions_OldestFirstWithAllFields()
    {
        var store = CreateStore();
        var id = TestJobs.NewId();
        var created = TestJobs.Entry(null, JobState.Queued, "submitted");
        await store.TryCreateAsync(TestJobs.Create(id), created, None);
        var current = (await store.GetAsync(id, None))!;
        var provision = TestJobs.Entry(JobState.Queued, JobState.Provisioning, "capacity requested", 1);
        await store.TryUpdateAsync(current with { State = JobState.Provisioning }, current.Revision, provision, None);
        current = (await store.GetAsync(id, None))!;
        await store.TryUpdateAsync(current with { Workers = 4 }, current.Revision, null, None);
        current = (await store.GetAsync(id, None))!;
        var launch = TestJobs.Entry(JobState.Provisioning, JobState.Launching, "resource active", 1);
        await store.TryUpdateAsync(current with { State = JobState.Launching }, current.Revision, launch, None);

        var history = await store.GetHistoryAsync(id, None);

        Assert.Equal([created, provision, launch], history);
        Assert.Null(history[0].From);
    }

    [Fact]
    public async Task ListActiveAsync_MixedStates_ExcludesTerminalJobs()
    {
        var store = CreateStore();
        var ids = new Dictionary<JobState, string>();
        foreach (var state in Enum.GetValues<JobState>())
        {
            ids[state] = TestJobs.NewId();
            await store.TryCreateAsync(TestJobs.Create(ids[state], state), TestJobs.Entry(null, state, "seeded"), None);
        }

        var active = await store.ListActiveAsync(None);

        var expected = Enum.GetValues<JobState>().Where(s => !s.IsTerminal()).Select(s => ids[s]).Order(StringComparer.Ordinal);
        Assert.Equal(expected, active.Select(j => j.Id).Order(StringComparer.Ordinal));
        Assert.All(active, j => Assert.NotEqual("", j.Revision));
    }

    [Fact]
    public async Task ListRecentAsync_Limit_ReturnsNewestSubmittedFirst()
    {
        var store = CreateStore();
        var ids = new List<string>();
        // Created out of submission order, with mixed offsets, so neither insertion order nor
        // local clock text can pass for submission order.
        foreach (var minutes in new[] { 30, 10, 50, 20, 40 })
        {
            var id = TestJobs.NewId();
            ids.Add(id);
            var submitted = TestJobs.Epoch.AddMinutes(minutes).ToOffset(TimeSpan.FromHours(minutes % 20 == 0 ? -8 : 5));
            await store.TryCreateAsync(TestJobs.Create(id, submittedAt: submitted), TestJobs.Entry(null, JobState.Queued, "submitted"), None);
        }

        var recent = await store.ListRecentAsync(3, None);

        Assert.Equal([ids[2], ids[4], ids[0]], recent.Select(j => j.Id));
    }

    [Fact]
    public async Task GetAsync_MissingId_ReturnsNull()
    {
        var store = CreateStore();

        Assert.Null(await store.GetAsync(TestJobs.NewId(), None));
    }

    [Fact]
    public async Task Outbox_EveryWriteWithAHistoryEntry_AddsItsEventInTheSameWrite()
    {
        var store = CreateStore();
        var events = (IJobEventStore)store;
        var id = TestJobs.NewId();
        await store.TryCreateAsync(TestJobs.Create(id), TestJobs.Entry(null, JobState.Queued, "submitted"), None);
        var current = (await store.GetAsync(id, None))!;
        Assert.True(await store.TryUpdateAsync(current with { State = JobState.Recovering }, current.Revision, TestJobs.Entry(JobState.Running, JobState.Recovering, "preempted: maintenance event", 2), None));
        current = (await store.GetAsync(id, None))!;
        Assert.True(await store.TryUpdateAsync(current with { Attempt = 3 }, current.Revision, null, None));
        Assert.False(await store.TryUpdateAsync(current, current.Revision, TestJobs.Entry(JobState.Recovering, JobState.Failed, "lost race"), None));

        var pending = await events.ListOutboxAsync(id, 10, None);

        Assert.Equal([$"{id}/1", $"{id}/2"], pending.Select(e => e.Id));
        Assert.Equal([JobEventTypes.State, JobEventTypes.Preempted], pending.Select(e => e.Type));
        Assert.Equal(JobEvent.Version1, pending[1].SpecVersion);
        Assert.Equal((JobState?)JobState.Running, pending[1].From);
        Assert.Equal((JobState.Recovering, 2, "staging", "preempted: maintenance event"), (pending[1].To, pending[1].Attempt, pending[1].Deployment, pending[1].Detail));
        Assert.Equal(TestJobs.Epoch.AddSeconds(2), pending[1].At);
    }

    [Fact]
    public async Task Outbox_RemoveAndListAll_RemovesOnlyThePublishedEvent()
    {
        var store = CreateStore();
        var events = (IJobEventStore)store;
        var first = TestJobs.NewId();
        var second = TestJobs.NewId();
        await store.TryCreateAsync(TestJobs.Create(first), TestJobs.Entry(null, JobState.Queued, "submitted"), None);
        await store.TryCreateAsync(TestJobs.Create(second), TestJobs.Entry(null, JobState.Queued, "submitted"), None);

        await events.RemoveFromOutboxAsync($"{first}/1", None);
        await events.RemoveFromOutboxAsync($"{first}/1", None);
        await events.RemoveFromOutboxAsync($"{TestJobs.NewId()}/7", None);

        Assert.Empty(await events.ListOutboxAsync(first, 10, None));
        Assert.Contains($"{second}/1", (await events.ListOutboxAsync(null, 1000, None)).Select(e => e.Id));
        Assert.DoesNotContain($"{first}/1", (await events.ListOutboxAsync(null, 1000, None)).Select(e => e.Id));
    }

    [Fact]
    public async Task Deliveries_ClaimCompleteRelease_OneSenderAtATimeAndNoneAfterCompletion()
    {
        var events = (IJobEventStore)CreateStore();
        var key = $"{TestJobs.NewId()}/4";
        var now = TestJobs.Epoch;

        Assert.Equal(DeliveryClaim.Claimed, await events.TryClaimDeliveryAsync(key, now, now.AddMinutes(1), None));
        Assert.Equal(DeliveryClaim.Busy, await events.TryClaimDeliveryAsync(key, now.AddSeconds(30), now.AddMinutes(2), None));

        // The holder crashed: once its claim ran out another copy takes the delivery over.
        Assert.Equal(DeliveryClaim.Claimed, await events.TryClaimDeliveryAsync(key, now.AddMinutes(1), now.AddMinutes(2), None));
        await events.ReleaseDeliveryAsync(key, None);
        Assert.Equal(DeliveryClaim.Claimed, await events.TryClaimDeliveryAsync(key, now.AddMinutes(1), now.AddMinutes(2), None));

        await events.CompleteDeliveryAsync(key, "delivered: HTTP 200", now.AddMinutes(1), None);
        await events.ReleaseDeliveryAsync(key, None);

        Assert.Equal(DeliveryClaim.Completed, await events.TryClaimDeliveryAsync(key, now.AddHours(1), now.AddHours(2), None));
        // Within the retention, counted from the completion, a duplicate still finds the record.
        var lastDay = now.AddMinutes(1) + IJobEventStore.DeliveryRetention - TimeSpan.FromSeconds(1);
        Assert.Equal(DeliveryClaim.Completed, await events.TryClaimDeliveryAsync(key, lastDay, lastDay.AddMinutes(1), None));
    }

    [Fact]
    public async Task Deliveries_ConcurrentClaims_ExactlyOneWins()
    {
        var events = (IJobEventStore)CreateStore();
        var key = $"{TestJobs.NewId()}/1";
        var now = TestJobs.Epoch;

        var claims = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => events.TryClaimDeliveryAsync(key, now, now.AddMinutes(1), None))));

        Assert.Single(claims, c => c == DeliveryClaim.Claimed);
        Assert.All(claims.Where(c => c != DeliveryClaim.Claimed), c => Assert.Equal(DeliveryClaim.Busy, c));
    }

    private static string Json(Job job) => JsonSerializer.Serialize(job, SpotJaxJson.Options);
}
