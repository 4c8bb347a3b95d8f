using Microsoft.Extensions.Time.Testing;
using SpotJax.Core.Ports;
using SpotJax.Google.Http;
using SpotJax.Google.OsLogin;
using SpotJax.TpuSimulation;

namespace SpotJax.Ssh.Tests;

/// <summary>
/// Launch through OS Login against a real sshd whose only source of keys is an
/// <c>AuthorizedKeysCommand</c> asking the TPU simulator's OS Login stand-in for the user's unexpired
/// imported keys, as a TPU VM's guest agent does (<c>google_authorized_keys</c>). The profile's POSIX
/// user is the current OS user (a test cannot create users); the configured metadata user differs.
/// </summary>
[Collection(SshCollection.Name)]
public sealed class OsLoginLaunchTests(SshWorkersFixture sshd) : IAsyncLifetime
{
    private const string Email = "spotjax-launch@spotjax-test.iam.gserviceaccount.com";
    private const string Token = "ya29.launch";
    private const string Project = "spotjax-test";
    private const string ConfiguredUser = "spotjax-metadata-user";

    /// <summary>
    /// The guest's side: prints the user's keys from <c>oslogin/users?username=</c>, or nothing (a refusal)
    /// when the user is unknown. The stand-in leaves expired keys out.
    /// </summary>
    private const string KeysCommand = """
        import json, sys, urllib.parse, urllib.request
        base, user = sys.argv[1], sys.argv[2]
        url = base + "computeMetadata/v1/oslogin/users?username=" + urllib.parse.quote(user)
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers={"Metadata-Flavor": "Google"}), timeout=5) as r:
                profiles = json.load(r)["loginProfiles"]
        except Exception:
            sys.exit(0)
        for profile in profiles:
            for key in profile.get("sshPublicKeys", {}).values():
                print(key["key"])
        """;

    private readonly FakeTimeProvider clock = new(new DateTimeOffset(2026, 12, 5, 7, 30, 0, TimeSpan.Zero));
    private readonly SshSandbox sandbox = new();
    private readonly HttpClient http = new();
    private TpuSimulator simulator = null!;
    private SshDaemon daemon = null!;

    public async Task InitializeAsync()
    {
        simulator = await TpuSimulator.StartAsync(new TpuSimulatorOptions { NodesRoot = Path.Combine(sandbox.Root, "nodes") }, clock);
        simulator.AddOsLoginAccount(Email, Environment.UserName, 1467283945, Token);
        var script = Path.Combine(sandbox.Root, "google_authorized_keys.py");
        await File.WriteAllTextAsync(script, KeysCommand);
        daemon = await SshDaemon.StartAsync(
            Path.Combine(sandbox.Root, "sshd"), Path.Combine(sandbox.Root, "unused_authorized_keys"), CancellationToken.None,
            authorizedKeysCommand: $"/usr/bin/python3 {script} {simulator.BaseUri} %u");
        sandbox.WriteWorkScript();
    }

    public async Task DisposeAsync()
    {
        await daemon.DisposeAsync();
        await simulator.DisposeAsync();
        http.Dispose();
        sandbox.Dispose();
    }

    [Fact]
    public async Task Launch_OsLoginOn_ImportsTheKeyAndLogsInAsTheProfilesUserNotTheConfiguredOne()
    {
        using var session = Session();
        var runner = new SshWorkerRunner(Options(session.LoginUserAsync), sandbox.Objects);

        var results = await runner.LaunchAsync(Plan(), CancellationToken.None);

        Assert.True(results[0].Succeeded, results[0].StderrTail);
        Assert.Equal(1, session.Imports);
        Assert.Equal(clock.GetUtcNow().AddMinutes(30), simulator.OsLoginKeys(Email)[sshd.Workers.ClientKey.PublicKey]);
        var log = await File.ReadAllTextAsync(Path.Combine(daemon.Directory, "sshd.log"));
        Assert.Contains($"Accepted publickey for {Environment.UserName} from 127.0.0.1", log, StringComparison.Ordinal);
        Assert.DoesNotContain(ConfiguredUser, log, StringComparison.Ordinal);
        await SshSandbox.WaitForFileAsync(sandbox.MarkerPath(1, 0, "exited"));
    }

    [Fact]
    public async Task Launch_KeyNeverImported_IsRefusedBySshd()
    {
        var runner = new SshWorkerRunner(Options(_ => Task.FromResult(Environment.UserName)), sandbox.Objects);

        var results = await runner.LaunchAsync(Plan(), CancellationToken.None);

        Assert.False(results[0].Succeeded);
        Assert.Contains($"cannot connect over SSH as {Environment.UserName}", results[0].StderrTail, StringComparison.Ordinal);
        Assert.Empty(simulator.OsLoginKeys(Email));
    }

    [Fact]
    public async Task Launch_ImportedKeyExpired_IsRefused_AndTheSessionImportsItAgain()
    {
        using var session = Session();
        await session.LoginUserAsync(CancellationToken.None);
        clock.Advance(TimeSpan.FromMinutes(30));
        var stale = new SshWorkerRunner(Options(_ => Task.FromResult(Environment.UserName)), sandbox.Objects);

        var refused = await stale.LaunchAsync(Plan(), CancellationToken.None);
        var renewed = await new SshWorkerRunner(Options(session.LoginUserAsync), sandbox.Objects).LaunchAsync(Plan(), CancellationToken.None);

        Assert.False(refused[0].Succeeded);
        Assert.Contains("cannot connect over SSH", refused[0].StderrTail, StringComparison.Ordinal);
        Assert.True(renewed[0].Succeeded, renewed[0].StderrTail);
        Assert.Equal(2, session.Imports);
    }

    private OsLoginSession Session() => new(
        new OsLoginClient(new GoogleApiTransport(http, new FixedTokenSource(Token)), Project, simulator.BaseUri),
        new OsLoginSessionOptions { User = Email, PublicKey = sshd.Workers.ClientKey.PublicKey },
        clock);

    private SshRunnerOptions Options(Func<CancellationToken, Task<string>> loginUser) => sandbox.Options(sshd) with
    {
        User = ConfiguredUser,
        LoginUser = loginUser,
        ConnectRetryWindow = TimeSpan.FromSeconds(2),
    };

    private LaunchPlan Plan() => sandbox.Plan([daemon.Port]);
}
