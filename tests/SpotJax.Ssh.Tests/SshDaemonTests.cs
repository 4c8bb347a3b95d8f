using Renci.SshNet;
using SpotJax.Core.Ports;

namespace SpotJax.Ssh.Tests;

/// <summary>What a private <see cref="SshDaemon"/> gives the sessions it starts.</summary>
[Collection(SshCollection.Name)]
public sealed class SshDaemonTests(SshWorkersFixture sshd)
{
    [Fact]
    public async Task StartAsync_SessionHome_EverySessionRunsWithItAsHome()
    {
        using var sandbox = new SshSandbox();
        var home = Path.Combine(sandbox.Root, "fresh-home");
        await using var daemon = await SshDaemon.StartAsync(Path.Combine(sandbox.Root, "sshd"), sshd.Workers.AuthorizedKeysFile, CancellationToken.None, home);

        Assert.Equal(home, await HomeSeenAsync(daemon));
        Assert.True(Directory.Exists(home));
    }

    [Fact]
    public async Task StartAsync_NoSessionHome_SessionsKeepTheUsersOwnHome()
    {
        using var sandbox = new SshSandbox();
        await using var daemon = await SshDaemon.StartAsync(Path.Combine(sandbox.Root, "sshd"), sshd.Workers.AuthorizedKeysFile, CancellationToken.None);

        Assert.Equal(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), await HomeSeenAsync(daemon));
    }

    [Theory]
    [InlineData("relative/home")]
    [InlineData("/tmp/with space")]
    [InlineData("/tmp/new\nline")]
    [InlineData("/tmp/quo\"te")]
    public async Task CreateAsync_UnsafeSessionHome_RefusedBeforeAnythingIsWritten(string home)
    {
        using var sandbox = new SshSandbox();
        var directory = Path.Combine(sandbox.Root, "sshd");

        await Assert.ThrowsAsync<ArgumentException>(() => SshDaemon.CreateAsync(directory, sshd.Workers.AuthorizedKeysFile, 0, CancellationToken.None, home));

        Assert.False(Directory.Exists(directory));
    }

    private async Task<string> HomeSeenAsync(SshDaemon daemon)
    {
        var key = await File.ReadAllBytesAsync(sshd.Workers.ClientKey.PrivateKeyPath);
        using var connection = new SshConnection<SshClient>(new WorkerEndpoint(0, "127.0.0.1", daemon.Port), Environment.UserName, key, TimeSpan.FromSeconds(15), [], info => new SshClient(info));
        await connection.Client.ConnectAsync(CancellationToken.None);
        using var command = connection.Client.RunCommand("printf %s \"$HOME\"");
        Assert.Equal(0, command.ExitStatus);
        return command.Result;
    }
}
