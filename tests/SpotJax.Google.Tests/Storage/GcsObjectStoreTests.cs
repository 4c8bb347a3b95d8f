using System.Text;
using Google.Cloud.Storage.V1;
using SpotJax.Core;
using SpotJax.Core.Ports;
using SpotJax.Google.Storage;
using SpotJax.Google.Tests.Emulators;

namespace SpotJax.Google.Tests.Storage;

/// <summary>What <see cref="GcsObjectStore"/> does beyond the contract: ranged reads, content types, large uploads and creates, failures.</summary>
[Collection(StorageServerCollection.Name)]
public sealed class GcsObjectStoreTests(StorageServer server)
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task ReadFromAsync_GrowingLog_ReturnsOnlyTheBytesAfterTheOffset()
    {
        using var store = await server.CreateStoreAsync();
        await store.PutAsync("job-a/logs/worker-0.log", Encoding.UTF8.GetBytes("step 1\n"), None);
        var first = await store.ReadFromAsync("job-a/logs/worker-0.log", 0, None);
        await store.PutAsync("job-a/logs/worker-0.log", Encoding.UTF8.GetBytes("step 1\nstep 2\n"), None);

        var rest = await store.ReadFromAsync("job-a/logs/worker-0.log", first!.Length, None);

        Assert.Equal("step 1\n", Encoding.UTF8.GetString(first));
        Assert.Equal("step 2\n", Encoding.UTF8.GetString(rest!));
    }

    [Theory]
    [InlineData(5)]
    [InlineData(6)]
    public async Task ReadFromAsync_OffsetAtOrPastTheEnd_ReturnsEmpty(long offset)
    {
        using var store = await server.CreateStoreAsync();
        await store.PutAsync("job-a/logs/worker-1.log", Encoding.UTF8.GetBytes("hello"), None);

        var rest = await store.ReadFromAsync("job-a/logs/worker-1.log", offset, None);

        Assert.NotNull(rest);
        Assert.Empty(rest);
    }

    [Fact]
    public async Task ReadFromAsync_MissingObject_ReturnsNull()
    {
        using var store = await server.CreateStoreAsync();

        Assert.Null(await store.ReadFromAsync("job-a/logs/never-written.log", 0, None));
    }

    [Fact]
    public async Task PutAsync_NameExtension_StoresTheMatchingContentType()
    {
        using var store = await server.CreateStoreAsync();
        using var client = await new StorageClientBuilder { BaseUri = server.BaseUri.AbsoluteUri, UnauthenticatedAccess = true }.BuildAsync();
        var expected = new Dictionary<string, string>
        {
            ["jobs/train.yaml"] = "application/yaml",
            ["jobs/train.JSON"] = "application/json",
            ["job-a/logs/worker-0.log"] = "text/plain; charset=utf-8",
            ["job-a/code.tar.gz"] = "application/gzip",
            ["job-a/ckpt/state"] = "application/octet-stream",
        };

        foreach (var name in expected.Keys)
        {
            await store.PutAsync(name, [1], None);
        }

        await store.PutAsync("job-a/ckpt/meta", [2], "application/x-spotjax-step", None);
        foreach (var (name, contentType) in expected)
        {
            Assert.Equal(contentType, (await client.GetObjectAsync(store.Bucket, name)).ContentType);
        }

        Assert.Equal("application/x-spotjax-step", (await client.GetObjectAsync(store.Bucket, "job-a/ckpt/meta")).ContentType);
    }

    [Fact]
    public async Task PutAsync_LargerThanTheSingleRequestLimit_UploadsResumablyAndReadsBack()
    {
        using var store = await server.CreateStoreAsync(singleRequestUploadLimit: 1024);
        var content = new byte[256 * 1024];
        new Random(42).NextBytes(content);

        await store.PutAsync("job-a/code.tar.gz", content, None);

        Assert.Equal(content, await store.GetAsync("job-a/code.tar.gz", None));
        Assert.Equal(content.Length, Assert.Single(await store.ListAsync("job-a/", None)).Size);
    }

    [Fact]
    public async Task TryCreateAsync_LargerThanTheSingleRequestLimit_CreatesResumablyOnlyOnce()
    {
        using var store = await server.CreateStoreAsync(singleRequestUploadLimit: 1024);
        var first = new byte[256 * 1024];
        var second = new byte[first.Length];
        new Random(42).NextBytes(first);
        new Random(43).NextBytes(second);

        Assert.True(await store.TryCreateAsync("job-a/code.tar.gz", first, None));
        Assert.False(await store.TryCreateAsync("job-a/code.tar.gz", second, None));

        Assert.Equal(first, await store.GetAsync("job-a/code.tar.gz", None));
    }

    [Fact]
    public async Task TryCreateAsync_NameExtension_StoresTheMatchingContentType()
    {
        using var store = await server.CreateStoreAsync();
        using var client = await new StorageClientBuilder { BaseUri = server.BaseUri.AbsoluteUri, UnauthenticatedAccess = true }.BuildAsync();

        await store.TryCreateAsync("jobs/train.yaml", [1], None);

        Assert.Equal("application/yaml", (await client.GetObjectAsync(store.Bucket, "jobs/train.yaml")).ContentType);
    }

    [Fact]
    public async Task TryCreateAsync_NothingListening_ThrowsTransientUnavailable()
    {
        using var store = await GcsObjectStore.CreateAsync(
            new GcsObjectStoreOptions { Bucket = StorageServer.NewBucket(), BaseUri = new Uri($"http://127.0.0.1:{LoopbackPorts.Choose()}/storage/v1/") }, None);

        var error = await Assert.ThrowsAsync<GoogleApiException>(() => store.TryCreateAsync("job-a/hostkeys/attempt-1/worker-0", [1], None));

        Assert.Equal("UNAVAILABLE", error.Status);
        Assert.True(error.IsTransient);
        Assert.Contains($"gs://{store.Bucket}/job-a/hostkeys/attempt-1/worker-0", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PutAsync_NothingListening_ThrowsTransientUnavailable()
    {
        using var store = await GcsObjectStore.CreateAsync(
            new GcsObjectStoreOptions { Bucket = StorageServer.NewBucket(), BaseUri = new Uri($"http://127.0.0.1:{LoopbackPorts.Choose()}/storage/v1/") }, None);

        var error = await Assert.ThrowsAsync<GoogleApiException>(() => store.PutAsync("jobs/train.yaml", [1], None));

        Assert.Equal("UNAVAILABLE", error.Status);
        Assert.True(error.IsTransient);
        Assert.Contains($"gs://{store.Bucket}/jobs/train.yaml", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateAsync_InvalidOptions_ThrowsArgumentException()
    {
        await Assert.ThrowsAnyAsync<ArgumentException>(() => GcsObjectStore.CreateAsync(new GcsObjectStoreOptions { Bucket = "" }, None));
        await Assert.ThrowsAnyAsync<ArgumentException>(() =>
            GcsObjectStore.CreateAsync(new GcsObjectStoreOptions { Bucket = "b", BaseUri = server.BaseUri, ListPageSize = 0 }, None));
    }
}
