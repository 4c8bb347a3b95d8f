using System.Text;
using SpotJax.Local.Storage;

namespace SpotJax.Ssh.Tests;

/// <summary>
/// The first-contact record of <see cref="HostKeyPin"/> against another launch of the same attempt
/// writing between this launch's load and its record: the moment no SSH test can time.
/// </summary>
public sealed class HostKeyPinTests : IAsyncLifetime
{
    private const string KeyA = "ssh-ed25519 SHA256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    private const string KeyB = "ssh-ed25519 SHA256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    private static readonly CancellationToken None = CancellationToken.None;

    private readonly string _root = Directory.CreateTempSubdirectory("spotjax-hostkeys-").FullName;
    private readonly FolderObjectStore _store;

    public HostKeyPinTests()
    {
        _store = new FolderObjectStore(_root, "spotjax-test");
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task RecordAsync_FirstContact_RecordsTheKey()
    {
        var pin = await LoadedPinAsync();
        Assert.True(pin.Accept(KeyA));

        await pin.RecordAsync(None);

        Assert.Equal(KeyA + "\n", await RecordedAsync(pin));
        Assert.Null(pin.Refusal);
    }

    [Fact]
    public async Task RecordAsync_AnotherLaunchRecordedADifferentKeyFirst_ThrowsNamingBothKeys()
    {
        var pin = await LoadedPinAsync();
        Assert.True(pin.Accept(KeyA));
        Assert.True(await _store.TryCreateAsync(pin.ObjectName, Encoding.UTF8.GetBytes(KeyB + "\n"), None));

        var error = await Assert.ThrowsAsync<WorkerLaunchException>(() => pin.RecordAsync(None));

        Assert.Contains($"host key {KeyA} differs from {KeyB}", error.Message, StringComparison.Ordinal);
        Assert.Contains("another launch of attempt 1", error.Message, StringComparison.Ordinal);
        Assert.Equal(error.Message, pin.Refusal);
        Assert.Equal(KeyB + "\n", await RecordedAsync(pin));
    }

    [Fact]
    public async Task RecordAsync_AnotherLaunchRecordedTheSameKeyFirst_Succeeds()
    {
        var pin = await LoadedPinAsync();
        Assert.True(pin.Accept(KeyA));
        Assert.True(await _store.TryCreateAsync(pin.ObjectName, Encoding.UTF8.GetBytes(KeyA + "\n"), None));

        await pin.RecordAsync(None);

        Assert.Null(pin.Refusal);
        Assert.True(pin.Accept(KeyA));
        Assert.False(pin.Accept(KeyB));
    }

    [Fact]
    public async Task RecordAsync_LaunchesRacingWithDifferentKeys_ExactlyOneRecordsAndTheOthersRefuse()
    {
        var keys = Enumerable.Range(0, 8).Select(i => $"ssh-ed25519 SHA256:launch-{i}").ToList();
        var pins = new List<HostKeyPin>();
        foreach (var key in keys)
        {
            var pin = await LoadedPinAsync();
            Assert.True(pin.Accept(key));
            pins.Add(pin);
        }

        var records = pins.Select(pin => Task.Run(() => pin.RecordAsync(None))).ToList();
        try
        {
            await Task.WhenAll(records);
        }
        catch (WorkerLaunchException)
        {
            // Expected of all but one; each record is checked below.
        }

        var winner = Assert.Single(Enumerable.Range(0, keys.Count), i => records[i].IsCompletedSuccessfully);
        Assert.Equal(keys[winner] + "\n", await RecordedAsync(pins[0]));
        Assert.All(
            Enumerable.Range(0, keys.Count).Where(i => i != winner),
            i => Assert.IsType<WorkerLaunchException>(records[i].Exception?.InnerException));
    }

    private async Task<HostKeyPin> LoadedPinAsync()
    {
        var pin = new HostKeyPin(_store, "job", attempt: 1, worker: 0);
        await pin.LoadAsync(None);
        return pin;
    }

    private async Task<string> RecordedAsync(HostKeyPin pin) =>
        Encoding.UTF8.GetString((await _store.GetAsync(pin.ObjectName, None))!);
}
