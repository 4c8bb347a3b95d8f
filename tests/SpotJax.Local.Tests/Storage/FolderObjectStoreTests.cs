using System.Text;
using SpotJax.Contracts;
using SpotJax.Core.Ports;
using SpotJax.Local.Storage;

namespace SpotJax.Local.Tests.Storage;

public sealed class FolderObjectStoreTests : ObjectStoreContractTests, IAsyncLifetime
{
    private const string BucketName = "spotjax-test";
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly string _root = Directory.CreateTempSubdirectory("spotjax-bucket-").FullName;
    private readonly List<StorageObjectEvent> _events = [];
    private readonly FolderObjectStore _store;

    public FolderObjectStoreTests()
    {
        _store = new FolderObjectStore(_root, BucketName);
        _store.OnFinalize((finalized, _) =>
        {
            lock (_events)
            {
                _events.Add(finalized);
            }

            return Task.CompletedTask;
        });
    }

    protected override IObjectStore Store => _store;

    /// <summary>Finalize events received so far, in arrival order.</summary>
    private IReadOnlyList<StorageObjectEvent> Events
    {
        get
        {
            lock (_events)
            {
                return [.. _events];
            }
        }
    }

    public static TheoryData<string> InvalidNames() => new()
    {
        "",
        "../x",
        "a/../../b",
        "a/./b",
        "/abs",
        "a\\b",
        "a//b",
        "a/",
        "a/.hidden",
        "x\0y",
        "line\nbreak",
        new string('n', 1025),
        new string('\u00e9', 513),
    };

    // The first scan is the baseline; taking it here makes every later file count as new.
    public Task InitializeAsync() => _store.ScanAsync(None);

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    /// <summary>Returns once every event due for the writes made so far has been delivered.</summary>
    private Task FlushEventsAsync() => _store.ScanAsync(None);

    [Fact]
    public async Task PutAsync_NewObject_RaisesExactlyOneFinalizeEvent()
    {
        await _store.PutAsync("jobs/train.yaml", Encoding.UTF8.GetBytes("name: llama"), None);
        await FlushEventsAsync();
        await FlushEventsAsync();

        var finalized = Assert.Single(Events);
        Assert.Equal(_store.Bucket, finalized.Bucket);
        Assert.Equal("jobs/train.yaml", finalized.Name);
        Assert.Equal(11, finalized.Size);
        Assert.True(finalized.Generation > 0);
    }

    [Fact]
    public async Task PutAsync_Overwrite_RaisesAnEventPerGenerationMatchingTheListing()
    {
        await _store.PutAsync("job-a/ckpt/state", [1, 2, 3], None);
        await FlushEventsAsync();
        await _store.PutAsync("job-a/ckpt/state", [4, 5], None);
        await FlushEventsAsync();

        var events = Events;
        Assert.Equal(2, events.Count);
        Assert.True(events[1].Generation > events[0].Generation);
        Assert.Equal((3L, 2L), (events[0].Size, events[1].Size));
        var listed = Assert.Single(await _store.ListAsync("job-a/", None));
        Assert.Equal(events[1].Generation, listed.Generation);
    }

    [Fact]
    public async Task TryCreateAsync_NewObject_RaisesExactlyOneFinalizeEvent()
    {
        await _store.TryCreateAsync("job-a/hostkeys/attempt-1/worker-0", [1, 2, 3], None);
        await FlushEventsAsync();
        await FlushEventsAsync();

        var finalized = Assert.Single(Events);
        Assert.Equal("job-a/hostkeys/attempt-1/worker-0", finalized.Name);
        Assert.Equal(3, finalized.Size);
        Assert.Equal(Assert.Single(await _store.ListAsync("job-a/", None)).Generation, finalized.Generation);
    }

    [Fact]
    public async Task TryCreateAsync_ExistingObject_RaisesNoEventAndLeavesNoTemporaryFile()
    {
        await _store.PutAsync("job-a/hostkeys/attempt-1/worker-0", [1], None);
        await FlushEventsAsync();

        Assert.False(await _store.TryCreateAsync("job-a/hostkeys/attempt-1/worker-0", [2], None));
        await ScanTimesAsync(3);

        Assert.Single(Events);
        Assert.Equal([Path.Combine(_root, "job-a", "hostkeys", "attempt-1", "worker-0")], Directory.GetFileSystemEntries(Path.Combine(_root, "job-a", "hostkeys", "attempt-1")));
    }

    [Fact]
    public async Task TryCreateAsync_FileWrittenByAnotherProcess_ReturnsFalseAndKeepsIt()
    {
        var path = Path.Combine(_root, "job-a", "hostkeys", "attempt-1", "worker-0");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllTextAsync(path, "ssh-ed25519 SHA256:other\n");

        Assert.False(await _store.TryCreateAsync("job-a/hostkeys/attempt-1/worker-0", [1], None));
        Assert.Equal("ssh-ed25519 SHA256:other\n", await File.ReadAllTextAsync(path));
    }

    [Fact]
    public async Task TryCreateAsync_StoresOnOneFolderRacing_ExactlyOneCreates()
    {
        // Stores of their own share no lock, as the stores of two processes would not.
        const int Writers = 16;
        var stores = Enumerable.Range(0, Writers).Select(_ => new FolderObjectStore(_root, BucketName)).ToList();
        try
        {
            for (var round = 0; round < 20; round++)
            {
                var name = $"job-a/hostkeys/attempt-{round}/worker-0";
                var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var creating = stores.Select(async (store, i) =>
                {
                    await start.Task;
                    return await store.TryCreateAsync(name, Encoding.UTF8.GetBytes($"writer-{i}"), None);
                }).ToList();
                start.SetResult();
                var created = await Task.WhenAll(creating);

                var winner = Assert.Single(Enumerable.Range(0, Writers), i => created[i]);
                Assert.Equal($"writer-{winner}", Encoding.UTF8.GetString((await _store.GetAsync(name, None))!));
            }
        }
        finally
        {
            foreach (var store in stores)
            {
                await store.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task ScanAsync_ExternalWrite_RaisesExactlyOneEventOnceSettled()
    {
        var path = Path.Combine(_root, "job-a", "ckpt", "step_100");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllTextAsync(path, "weights");

        await ScanTimesAsync(4);

        var finalized = Assert.Single(Events);
        Assert.Equal(("job-a/ckpt/step_100", 7L, BucketName), (finalized.Name, finalized.Size, finalized.Bucket));
        Assert.Equal(new FileInfo(path).LastWriteTimeUtc, finalized.Updated.UtcDateTime);
    }

    [Fact]
    public async Task ScanAsync_FileStillChanging_WaitsUntilItSettles()
    {
        var path = Path.Combine(_root, "log.txt");
        await File.WriteAllTextAsync(path, "a");
        await _store.ScanAsync(None);
        await File.AppendAllTextAsync(path, "bc");
        await _store.ScanAsync(None);

        Assert.Empty(Events);
        await _store.ScanAsync(None);
        Assert.Equal(3, Assert.Single(Events).Size);
    }

    [Fact]
    public async Task ScanAsync_TempFileRenamedIntoPlace_RaisesOneEventForTheTarget()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_root, "job-a", "markers", "attempt-1", "worker-0")).FullName;
        var temp = Path.Combine(folder, ".exited.partial");
        await File.WriteAllTextAsync(temp, "0");
        await _store.ScanAsync(None);
        File.Move(temp, Path.Combine(folder, "exited"));

        await ScanTimesAsync(3);

        Assert.Equal("job-a/markers/attempt-1/worker-0/exited", Assert.Single(Events).Name);
    }

    [Fact]
    public async Task ScanAsync_ExternalRewrite_RaisesOneMoreEventWithAHigherGeneration()
    {
        var path = Path.Combine(_root, "state.json");
        await File.WriteAllTextAsync(path, "{}");
        await ScanTimesAsync(2);
        await File.WriteAllTextAsync(path, "{\"step\":2}");
        File.SetLastWriteTimeUtc(path, File.GetLastWriteTimeUtc(path).AddSeconds(1));

        await ScanTimesAsync(3);

        var events = Events;
        Assert.Equal(2, events.Count);
        Assert.Equal("state.json", events[1].Name);
        Assert.Equal(10, events[1].Size);
        Assert.True(events[1].Generation > events[0].Generation);
    }

    [Fact]
    public async Task ScanAsync_PutAsyncObject_NoSecondEventFromTheScanner()
    {
        await _store.PutAsync("jobs/a.yaml", [1, 2], None);
        await _store.PutAsync("jobs/a.yaml", [1, 2, 3], None);

        await ScanTimesAsync(3);

        Assert.Equal([2L, 3L], Events.Select(e => e.Size));
        Assert.Empty(Directory.GetFiles(Path.Combine(_root, "jobs"), ".tmp-*"));
    }

    [Fact]
    public async Task ScanAsync_DotFilesAndFolders_Ignored()
    {
        await File.WriteAllTextAsync(Path.Combine(_root, ".hidden"), "x");
        await File.WriteAllTextAsync(Path.Combine(_root, ".tmp-123"), "x");
        Directory.CreateDirectory(Path.Combine(_root, ".cache", "deep"));
        await File.WriteAllTextAsync(Path.Combine(_root, ".cache", "deep", "file"), "x");
        Directory.CreateDirectory(Path.Combine(_root, "visible"));
        await File.WriteAllTextAsync(Path.Combine(_root, "visible", ".partial"), "x");

        await ScanTimesAsync(3);

        Assert.Empty(Events);
        Assert.Empty(await _store.ListAsync("", None));
    }

    [Fact]
    public async Task ScanAsync_FileDeletedAndCreatedAgain_RaisesANewEvent()
    {
        var path = Path.Combine(_root, "marker");
        await File.WriteAllTextAsync(path, "1");
        await ScanTimesAsync(2);
        File.Delete(path);
        await _store.ScanAsync(None);
        await File.WriteAllTextAsync(path, "22");

        await ScanTimesAsync(2);

        Assert.Equal([1L, 2L], Events.Select(e => e.Size));
    }

    [Fact]
    public async Task ScanAsync_FilesPresentAtTheFirstScan_NotAnnounced()
    {
        var root = Directory.CreateTempSubdirectory("spotjax-bucket-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(root, "old"), "from a previous session");
            await using var store = new FolderObjectStore(root, BucketName);
            var announced = new List<string>();
            store.OnFinalize((e, _) =>
            {
                announced.Add(e.Name);
                return Task.CompletedTask;
            });

            await store.ScanAsync(None);
            await File.WriteAllTextAsync(Path.Combine(root, "new"), "x");
            await store.ScanAsync(None);
            await store.ScanAsync(None);

            Assert.Equal(["new"], announced);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task ScanAsync_SinkThrows_RetriedOnTheNextScanAndCounted()
    {
        var calls = 0;
        _store.OnFinalize((_, _) => ++calls == 1 ? throw new IOException("bus unavailable") : Task.CompletedTask);

        await _store.PutAsync("jobs/a.yaml", [1], None);
        await _store.ScanAsync(None);
        var errorsAfterFirstDelivery = _store.SinkErrors;
        await _store.ScanAsync(None);
        await _store.ScanAsync(None);

        Assert.Equal(1, errorsAfterFirstDelivery);
        Assert.Equal(2, calls);
        Assert.Single(Events);
    }

    [Fact]
    public async Task Start_ExternalWrite_AnnouncedByTheWatcher()
    {
        var root = Directory.CreateTempSubdirectory("spotjax-bucket-").FullName;
        try
        {
            await using var store = new FolderObjectStore(root, BucketName, new FolderObjectStoreOptions { PollInterval = TimeSpan.FromMilliseconds(10) });
            var announced = new TaskCompletionSource<StorageObjectEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
            store.OnFinalize((e, _) =>
            {
                announced.TrySetResult(e);
                return Task.CompletedTask;
            });
            store.Start();

            await File.WriteAllTextAsync(Path.Combine(root, "preempted"), "now");

            Assert.Equal("preempted", (await announced.Task.WaitAsync(Patience)).Name);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task PutAsync_NoScan_EventDeliveredInTheBackground()
    {
        var delivered = new TaskCompletionSource<StorageObjectEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
        _store.OnFinalize((e, _) =>
        {
            delivered.TrySetResult(e);
            return Task.CompletedTask;
        });

        await _store.PutAsync("code/bundle.tar.gz", [1, 2, 3, 4], None);

        Assert.Equal(4, (await delivered.Task.WaitAsync(Patience)).Size);
    }

    [Theory]
    [MemberData(nameof(InvalidNames))]
    public async Task PutAsync_InvalidName_ThrowsArgumentException(string name)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _store.PutAsync(name, [1], None));
        await Assert.ThrowsAsync<ArgumentException>(() => _store.TryCreateAsync(name, [1], None));
        await Assert.ThrowsAsync<ArgumentException>(() => _store.GetAsync(name, None));
        Assert.Throws<ArgumentException>(() => _store.LocalPath(name));
        Assert.Empty(Directory.GetFileSystemEntries(_root));
    }

    [Theory]
    [InlineData("../")]
    [InlineData("a/..")]
    [InlineData("/")]
    public async Task ListAsync_TraversalPrefix_ThrowsArgumentException(string prefix)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _store.ListAsync(prefix, None));
    }

    [Fact]
    public void LocalPath_ValidName_IsTheFileUnderTheRoot()
    {
        Assert.Equal(Path.Combine(_root, "job-a", "logs", "attempt-1", "worker-0.log"), _store.LocalPath("job-a/logs/attempt-1/worker-0.log"));
    }

    [Theory]
    [InlineData("gs://spotjax-test/job-a/ckpt/step_1", "job-a/ckpt/step_1")]
    [InlineData("gs://spotjax-test/job-a/ckpt/", "job-a/ckpt")]
    [InlineData("gs://spotjax-test/", "")]
    [InlineData("gs://spotjax-test", "")]
    public void TryResolve_ThisBucket_MapsToTheLocalPath(string uri, string relative)
    {
        Assert.True(_store.TryResolve(uri, out var path));
        Assert.Equal(relative.Length == 0 ? _root : Path.Combine(_root, relative), path);
    }

    [Theory]
    [InlineData("gs://other-bucket/job-a/ckpt")]
    [InlineData("gs://spotjax-test-2/x")]
    [InlineData("s3://spotjax-test/x")]
    [InlineData("/tmp/spotjax-test/x")]
    [InlineData("gs://spotjax-test/../etc/passwd")]
    [InlineData("gs://spotjax-test/a//b")]
    [InlineData("")]
    public void TryResolve_OtherBucketOrInvalid_ReturnsFalse(string uri)
    {
        Assert.False(_store.TryResolve(uri, out _));
    }

    private async Task ScanTimesAsync(int scans)
    {
        for (var i = 0; i < scans; i++)
        {
            await _store.ScanAsync(None);
        }
    }
}
