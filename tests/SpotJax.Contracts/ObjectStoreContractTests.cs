using System.Text;
using SpotJax.Core.Ports;

namespace SpotJax.Contracts;

/// <summary>
/// What every <see cref="IObjectStore"/> with its finalize events must do. Each implementation
/// (the folder, Cloud Storage) runs these through a subclass that supplies an empty bucket and
/// collects the finalize events it raises.
/// </summary>
public abstract class ObjectStoreContractTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    /// <summary>An empty bucket.</summary>
    protected abstract IObjectStore Store { get; }

    /// <summary>Finalize events received so far, in arrival order.</summary>
    protected abstract IReadOnlyList<StorageObjectEvent> Events { get; }

    /// <summary>Returns once every event due for the writes made so far has arrived in <see cref="Events"/>.</summary>
    protected abstract Task FlushEventsAsync();

    [Fact]
    public async Task PutAsync_NewObject_RaisesExactlyOneFinalizeEvent()
    {
        await Store.PutAsync("jobs/train.yaml", Encoding.UTF8.GetBytes("name: llama"), None);
        await FlushEventsAsync();
        await FlushEventsAsync();

        var finalized = Assert.Single(Events);
        Assert.Equal(Store.Bucket, finalized.Bucket);
        Assert.Equal("jobs/train.yaml", finalized.Name);
        Assert.Equal(11, finalized.Size);
        Assert.True(finalized.Generation > 0);
    }

    [Fact]
    public async Task GetAsync_AfterPut_ReturnsTheContent()
    {
        byte[] content = [0, 1, 2, 255, 10, 13];
        await Store.PutAsync("job-a/markers/attempt-1/worker-0/exited", content, None);

        Assert.Equal(content, await Store.GetAsync("job-a/markers/attempt-1/worker-0/exited", None));
    }

    [Fact]
    public async Task GetAsync_MissingObject_ReturnsNull()
    {
        await Store.PutAsync("a/b", [1], None);

        Assert.Null(await Store.GetAsync("a/c", None));
        Assert.Null(await Store.GetAsync("missing/folder/object", None));
        Assert.Null(await Store.GetAsync("a", None));
    }

    [Fact]
    public async Task PutAsync_Overwrite_ReplacesContentWithAHigherGeneration()
    {
        await Store.PutAsync("job-a/ckpt/state", [1, 2, 3], None);
        await FlushEventsAsync();
        await Store.PutAsync("job-a/ckpt/state", [4, 5], None);
        await FlushEventsAsync();

        Assert.Equal([4, 5], await Store.GetAsync("job-a/ckpt/state", None));
        Assert.Equal(2, Events.Count);
        Assert.True(Events[1].Generation > Events[0].Generation);
        Assert.Equal((3L, 2L), (Events[0].Size, Events[1].Size));
        var listed = Assert.Single(await Store.ListAsync("job-a/", None));
        Assert.Equal(Events[1].Generation, listed.Generation);
    }

    [Fact]
    public async Task ListAsync_Prefix_ReturnsMatchingObjectsOrderedByName()
    {
        foreach (var name in new[] { "a/2", "b/1", "a/sub/x", "a-b", "a/1", "ab" })
        {
            await Store.PutAsync(name, Encoding.UTF8.GetBytes(name), None);
        }

        var underA = await Store.ListAsync("a/", None);
        var startingWithA = await Store.ListAsync("a", None);
        var everything = await Store.ListAsync("", None);

        Assert.Equal(["a/1", "a/2", "a/sub/x"], underA.Select(o => o.Name));
        Assert.Equal([3L, 3L, 7L], underA.Select(o => o.Size));
        Assert.Equal(["a-b", "a/1", "a/2", "a/sub/x", "ab"], startingWithA.Select(o => o.Name));
        Assert.Equal(["a-b", "a/1", "a/2", "a/sub/x", "ab", "b/1"], everything.Select(o => o.Name));
        Assert.Empty(await Store.ListAsync("nothing/", None));
    }
}
