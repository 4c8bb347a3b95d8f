using System.Text;
using SpotJax.Core.Ports;

namespace SpotJax.Contracts;

/// <summary>
/// The storage operations every <see cref="IObjectStore"/> must get right: put, get, list by prefix in
/// name order, overwrite, create-only writes and their races, missing objects, names with spaces and
/// non-ASCII characters. Each
/// implementation (the folder, Cloud Storage) runs these through a subclass that supplies an empty
/// bucket. Finalize events are not part of it: the folder raises them itself and has its own tests,
/// while Cloud Storage sends them through Eventarc.
/// </summary>
public abstract class ObjectStoreContractTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    /// <summary>How far an object's update time may lie from this machine's clock.</summary>
    private static readonly TimeSpan ClockTolerance = TimeSpan.FromSeconds(5);

    /// <summary>An empty bucket.</summary>
    protected abstract IObjectStore Store { get; }

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
    public async Task PutAsync_EmptyContent_StoresAnEmptyObject()
    {
        await Store.PutAsync("job-a/markers/attempt-1/worker-0/booted", [], None);

        var content = await Store.GetAsync("job-a/markers/attempt-1/worker-0/booted", None);
        Assert.NotNull(content);
        Assert.Empty(content);
        Assert.Equal(0, Assert.Single(await Store.ListAsync("job-a/", None)).Size);
    }

    [Fact]
    public async Task PutAsync_Overwrite_ReplacesContentWithAHigherGeneration()
    {
        await Store.PutAsync("job-a/ckpt/state", [1, 2, 3], None);
        var first = Assert.Single(await Store.ListAsync("job-a/", None));
        await Store.PutAsync("job-a/ckpt/state", [4, 5], None);
        var second = Assert.Single(await Store.ListAsync("job-a/", None));

        Assert.Equal([4, 5], await Store.GetAsync("job-a/ckpt/state", None));
        Assert.Equal((3L, 2L), (first.Size, second.Size));
        Assert.True(second.Generation > first.Generation, $"generation {second.Generation} after {first.Generation}");
        Assert.True(second.Updated >= first.Updated);
    }

    [Fact]
    public async Task TryCreateAsync_NewName_ReturnsTrueAndStoresTheContent()
    {
        byte[] content = [0, 1, 2, 255, 10, 13];

        var created = await Store.TryCreateAsync("job-a/hostkeys/attempt-1/worker-0", content, None);

        Assert.True(created);
        Assert.Equal(content, await Store.GetAsync("job-a/hostkeys/attempt-1/worker-0", None));
        var listed = Assert.Single(await Store.ListAsync("job-a/", None));
        Assert.Equal(6, listed.Size);
        Assert.True(listed.Generation > 0);
    }

    [Fact]
    public async Task TryCreateAsync_SecondCreate_ReturnsFalseAndKeepsTheFirstContent()
    {
        await Store.TryCreateAsync("job-a/hostkeys/attempt-1/worker-0", [1, 2, 3], None);
        var first = Assert.Single(await Store.ListAsync("job-a/", None));

        var created = await Store.TryCreateAsync("job-a/hostkeys/attempt-1/worker-0", [4, 5], None);

        Assert.False(created);
        Assert.Equal([1, 2, 3], await Store.GetAsync("job-a/hostkeys/attempt-1/worker-0", None));
        Assert.Equal(first, Assert.Single(await Store.ListAsync("job-a/", None)));
    }

    [Fact]
    public async Task TryCreateAsync_AfterPut_ReturnsFalseAndKeepsThePutContent()
    {
        await Store.PutAsync("job-a/hostkeys/attempt-1/worker-0", [1, 2, 3], None);

        var created = await Store.TryCreateAsync("job-a/hostkeys/attempt-1/worker-0", [1, 2, 3, 4], None);

        Assert.False(created);
        Assert.Equal([1, 2, 3], await Store.GetAsync("job-a/hostkeys/attempt-1/worker-0", None));
    }

    [Fact]
    public async Task TryCreateAsync_SameContentAgain_ReturnsFalse()
    {
        byte[] content = Encoding.UTF8.GetBytes("ssh-ed25519 SHA256:abc\n");
        await Store.TryCreateAsync("job-a/hostkeys/attempt-1/worker-0", content, None);

        Assert.False(await Store.TryCreateAsync("job-a/hostkeys/attempt-1/worker-0", content, None));
    }

    [Fact]
    public async Task TryCreateAsync_ConcurrentCreatesOfOneName_ExactlyOneWinsAndItsContentIsStored()
    {
        const int Writers = 16;
        var contents = Enumerable.Range(0, Writers).Select(i => Encoding.UTF8.GetBytes($"ssh-ed25519 SHA256:writer-{i:D2}\n")).ToList();

        var created = await Task.WhenAll(contents.Select(content => Task.Run(() => Store.TryCreateAsync("job-a/hostkeys/attempt-1/worker-0", content, None))));

        var winner = Assert.Single(Enumerable.Range(0, Writers), i => created[i]);
        Assert.Equal(contents[winner], await Store.GetAsync("job-a/hostkeys/attempt-1/worker-0", None));
        Assert.Single(await Store.ListAsync("job-a/", None));
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

    [Fact]
    public async Task ListAsync_NewObject_ReportsSizeGenerationAndUpdateTime()
    {
        var before = DateTimeOffset.UtcNow;
        await Store.PutAsync("job-a/logs/attempt-1/worker-0.log", Encoding.UTF8.GetBytes("step 1\nstep 2\n"), None);
        var after = DateTimeOffset.UtcNow;

        var listed = Assert.Single(await Store.ListAsync("job-a/logs/", None));

        Assert.Equal("job-a/logs/attempt-1/worker-0.log", listed.Name);
        Assert.Equal(14, listed.Size);
        Assert.True(listed.Generation > 0);
        Assert.InRange(listed.Updated, before - ClockTolerance, after + ClockTolerance);
    }

    [Fact]
    public async Task PutAsync_NameWithSpacesAndUnicode_RoundTripsThroughGetAndList()
    {
        const string Name = "job a/ckpt/étape 1 + 50%/检查点 #1?.bin";
        await Store.PutAsync(Name, [7, 8, 9], None);

        Assert.Equal([7, 8, 9], await Store.GetAsync(Name, None));
        Assert.Equal(Name, Assert.Single(await Store.ListAsync("job a/ckpt/étape", None)).Name);
        Assert.Null(await Store.GetAsync("job a/ckpt/etape 1 + 50%/检查点 #1?.bin", None));
    }

    [Fact]
    public async Task ListAsync_ManyObjects_ReturnsEachOnceInNameOrder()
    {
        var names = Enumerable.Range(0, 23).Select(i => $"job-a/ckpt/step_{i:D4}").ToList();
        foreach (var name in names.AsEnumerable().Reverse())
        {
            await Store.PutAsync(name, [1], None);
        }

        var listed = await Store.ListAsync("job-a/ckpt/", None);

        Assert.Equal(names, listed.Select(o => o.Name));
    }
}
