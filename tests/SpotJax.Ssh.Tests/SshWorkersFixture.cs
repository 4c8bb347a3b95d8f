namespace SpotJax.Ssh.Tests;

/// <summary>
/// Four private sshd daemons on the loopback, shared by the tests of <see cref="SshCollection"/>.
/// A machine without sshd fails here, with the command that installs it: nothing is skipped.
/// </summary>
public sealed class SshWorkersFixture : IAsyncLifetime
{
    public const int Count = 4;

    private readonly string directory = Path.Combine(Path.GetTempPath(), "spotjax-sshd-" + Guid.NewGuid().ToString("N"));

    public LocalSshWorkers Workers { get; private set; } = null!;

    public IReadOnlyList<SshDaemon> Daemons { get; private set; } = [];

    public async Task InitializeAsync()
    {
        if (SshDaemon.Unavailable() is { } reason)
        {
            throw new InvalidOperationException(reason);
        }

        Workers = await LocalSshWorkers.CreateAsync(directory, CancellationToken.None);
        Daemons = await Task.WhenAll(Enumerable.Range(0, Count).Select(i => Workers.DaemonAsync(i, CancellationToken.None)));
    }

    public async Task DisposeAsync()
    {
        await Workers.DisposeAsync();
        Directory.Delete(directory, recursive: true);
    }
}
