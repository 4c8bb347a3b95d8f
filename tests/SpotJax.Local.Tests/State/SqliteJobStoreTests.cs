using Microsoft.Data.Sqlite;
using SpotJax.Contracts;
using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;
using SpotJax.Local.State;

namespace SpotJax.Local.Tests.State;

public sealed class SqliteJobStoreTests : JobStoreContractTests, IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly string _folder = Directory.CreateTempSubdirectory("spotjax-jobstore-").FullName;
    private readonly List<SqliteJobStore> _stores = [];

    private string DatabasePath => Path.Combine(_folder, "jobs.db");

    protected override IJobStore CreateStore() => Open();

    [Fact]
    public async Task TryUpdateAsync_TwoStoresOnOneFile_ExactlyOneWinsEachRound()
    {
        // Two stores, two connection sets: what two processes sharing the file look like.
        var first = Open();
        var second = Open();
        var id = TestJobs.NewId();
        await first.TryCreateAsync(TestJobs.Create(id), TestJobs.Entry(null, JobState.Queued, "submitted"), None);

        for (var round = 1; round <= 10; round++)
        {
            var current = (await second.GetAsync(id, None))!;
            var results = await Task.WhenAll(
                Task.Run(() => first.TryUpdateAsync(current with { Attempt = round }, current.Revision, TestJobs.Entry(null, JobState.Queued, "first"), None)),
                Task.Run(() => second.TryUpdateAsync(current with { Attempt = round }, current.Revision, TestJobs.Entry(null, JobState.Queued, "second"), None)));

            Assert.Single(results, won => won);
        }

        Assert.Equal(11, (await first.GetHistoryAsync(id, None)).Count);
    }

    [Fact]
    public async Task TryUpdateAsync_EachWrite_RevisionCountsUpFromOne()
    {
        var store = Open();
        var id = TestJobs.NewId();
        await store.TryCreateAsync(TestJobs.Create(id), TestJobs.Entry(null, JobState.Queued, "submitted"), None);
        Assert.Equal("1", (await store.GetAsync(id, None))!.Revision);

        Assert.True(await store.TryUpdateAsync(TestJobs.Create(id), "1", null, None));
        Assert.True(await store.TryUpdateAsync(TestJobs.Create(id), "2", null, None));

        Assert.Equal("3", (await store.GetAsync(id, None))!.Revision);
        Assert.False(await store.TryUpdateAsync(TestJobs.Create(id), "not-a-revision", null, None));
    }

    [Fact]
    public async Task InitializeAsync_NewFile_UsesWalAndTheDocumentedColumns()
    {
        var store = Open();
        var id = TestJobs.NewId();
        await store.TryCreateAsync(TestJobs.Create(id, JobState.Launching), TestJobs.Entry(null, JobState.Queued, "submitted"), None);

        await using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode";
        Assert.Equal("wal", (string?)await command.ExecuteScalarAsync());
        command.CommandText = "SELECT state || ' ' || revision || ' ' || submitted_at FROM jobs";
        Assert.Equal("LAUNCHING 1 2025-03-14T07:26:53.0000000Z", (string?)await command.ExecuteScalarAsync());
        command.CommandText = "SELECT seq FROM events";
        Assert.Equal(1L, (long?)await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task GetAsync_AfterReopeningTheFile_ReturnsTheJob()
    {
        var id = TestJobs.NewId();
        using (var writer = new SqliteJobStore(DatabasePath))
        {
            await writer.TryCreateAsync(TestJobs.Create(id, JobState.Running), TestJobs.Entry(null, JobState.Queued, "submitted"), None);
        }

        var reader = Open();

        Assert.Equal(JobState.Running, (await reader.GetAsync(id, None))!.State);
    }

    public void Dispose()
    {
        foreach (var store in _stores)
        {
            store.Dispose();
        }

        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task Deliveries_PastTheirRetention_AreForgottenAtTheNextClaim()
    {
        IJobEventStore store = Open();
        var now = TestJobs.Epoch;
        var old = $"{TestJobs.NewId()}/1";
        var recent = $"{TestJobs.NewId()}/1";
        Assert.Equal(DeliveryClaim.Claimed, await store.TryClaimDeliveryAsync(old, now, now.AddMinutes(1), None));
        await store.CompleteDeliveryAsync(old, "delivered: HTTP 200", now, None);
        Assert.Equal(DeliveryClaim.Claimed, await store.TryClaimDeliveryAsync(recent, now.AddDays(5), now.AddDays(5).AddMinutes(1), None));
        await store.CompleteDeliveryAsync(recent, "delivered: HTTP 200", now.AddDays(5), None);

        var later = now + IJobEventStore.DeliveryRetention;
        Assert.Equal(DeliveryClaim.Completed, await store.TryClaimDeliveryAsync(recent, later, later.AddMinutes(1), None));

        Assert.Equal(["delivered: HTTP 200"], await DeliveryOutcomesAsync(recent));
        Assert.Empty(await DeliveryOutcomesAsync(old));
    }

    private async Task<List<string?>> DeliveryOutcomesAsync(string key)
    {
        await using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        await connection.OpenAsync();
        await using var select = connection.CreateCommand();
        select.CommandText = "SELECT outcome FROM deliveries WHERE key = @key";
        select.Parameters.AddWithValue("@key", key);
        var outcomes = new List<string?>();
        await using var reader = await select.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            outcomes.Add(reader.IsDBNull(0) ? null : reader.GetString(0));
        }

        return outcomes;
    }

    private SqliteJobStore Open()
    {
        var store = new SqliteJobStore(DatabasePath);
        _stores.Add(store);
        return store;
    }
}
