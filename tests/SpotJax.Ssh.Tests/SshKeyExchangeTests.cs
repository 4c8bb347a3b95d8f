using Renci.SshNet;
using SpotJax.Core.Ports;

namespace SpotJax.Ssh.Tests;

/// <summary>The key exchange a launch offers, against a real OpenSSH server.</summary>
[Collection(SshCollection.Name)]
public sealed class SshKeyExchangeTests(SshWorkersFixture sshd)
{
    private static readonly IReadOnlyList<string> DefaultPreference = new SshRunnerOptions { User = "u", KeySource = new FileSshKeySource("unused") }.PreferredKeyExchange;

    [Fact]
    public void Prefer_DefaultOptions_PutsX25519FirstAndKeepsEveryOtherMethodBehindInOrder()
    {
        using var login = new NoneAuthenticationMethod("u");
        var info = new ConnectionInfo("localhost", "u", login);

        SshKeyExchange.Prefer(info, DefaultPreference);

        Assert.Equal(["curve25519-sha256", "curve25519-sha256@libssh.org"], info.KeyExchangeAlgorithms.Keys.Take(2));
        Assert.Equal(SshKeyExchange.Supported.Except(DefaultPreference), info.KeyExchangeAlgorithms.Keys.Skip(2));
    }

    [Fact]
    public async Task Connect_DefaultPreference_NegotiatesX25519WithOpenSsh()
    {
        var negotiated = await ConnectAsync(DefaultPreference);

        Assert.Equal("curve25519-sha256", negotiated);
    }

    [Fact]
    public async Task Connect_EmptyPreference_NegotiatesSshNetsOwnFirstChoiceThatTheServerOffers()
    {
        var negotiated = await ConnectAsync([]);

        // SSH.NET puts the post-quantum hybrids first; whichever the server offers wins over X25519.
        Assert.NotEqual("curve25519-sha256", negotiated);
        Assert.True(
            SshKeyExchange.Supported.ToList().IndexOf(negotiated) < SshKeyExchange.Supported.ToList().IndexOf("curve25519-sha256"),
            $"negotiated {negotiated}");
    }

    [Fact]
    public void Constructor_UnknownKeyExchangeMethod_ThrowsNamingItAndTheSupportedOnes()
    {
        using var sandbox = new SshSandbox();
        var options = sandbox.Options(sshd) with { PreferredKeyExchange = ["curve25519-sha256", "kyber-nonsense"] };

        var error = Assert.Throws<ArgumentException>(() => new SshWorkerRunner(options, sandbox.Objects));

        Assert.Contains("'kyber-nonsense'", error.Message, StringComparison.Ordinal);
        Assert.Contains("ecdh-sha2-nistp256", error.Message, StringComparison.Ordinal);
    }

    private async Task<string> ConnectAsync(IReadOnlyList<string> preference)
    {
        var key = await File.ReadAllBytesAsync(sshd.Workers.ClientKey.PrivateKeyPath);
        var endpoint = new WorkerEndpoint(0, "127.0.0.1", sshd.Daemons[0].Port);
        using var connection = new SshConnection<SshClient>(endpoint, Environment.UserName, key, TimeSpan.FromSeconds(15), preference, info => new SshClient(info));
        await connection.Client.ConnectAsync(CancellationToken.None);
        return connection.Client.ConnectionInfo.CurrentKeyExchangeAlgorithm ?? "";
    }
}
