using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using SpotJax.Core.Ports;
using SpotJax.Google.Http;
using SpotJax.Google.OsLogin;

namespace SpotJax.Tpu.Tests;

/// <summary>The simulator's OS Login, Compute Engine <c>projects.get</c> and Org Policy stand-ins, called by the production clients.</summary>
public sealed class OsLoginStandInTests : IAsyncLifetime
{
    private const string User = "spotjax-launch@spotjax-test.iam.gserviceaccount.com";
    private const string Token = "ya29.launch";
    private const string OtherUser = "someone-else@spotjax-test.iam.gserviceaccount.com";
    private const string OtherToken = "ya29.other";
    private const string PublicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq3mAhl5jGd0cRnQdZ8kMx0wKz1F4ZkUu1CdJ8Ywq1F spotjax";

    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 5, 7, 30, 0, TimeSpan.Zero));
    private SimulatorHarness _harness = null!;

    public async Task InitializeAsync()
    {
        _harness = await SimulatorHarness.StartAsync(time: _clock);
        _harness.Simulator.AddOsLoginAccount(User, "sa_launch", 1467283945, Token);
        _harness.Simulator.AddOsLoginAccount(OtherUser, "sa_other", 1467283946, OtherToken);
    }

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task Import_AsTheAccountItself_RecordsTheKeyWithItsExpiryAndAnswersTheProfile()
    {
        var answer = await Client(Token).ImportSshPublicKeyAsync(User, PublicKey, _clock.GetUtcNow().AddMinutes(30), CancellationToken.None);

        var account = answer.LoginProfile!.PrimaryAccount!;
        Assert.Equal(("sa_launch", 1467283945L, "/home/sa_launch", "LINUX"), (account.Username, account.Uid!.Value, account.HomeDirectory, account.OperatingSystemType));
        var key = Assert.Single(answer.LoginProfile.SshPublicKeys!);
        Assert.Equal(key.Key, key.Value.Fingerprint);
        Assert.Equal(64, key.Key.Length);
        Assert.Equal(_clock.GetUtcNow().AddMinutes(30), Assert.Single(_harness.Simulator.OsLoginKeys(User)).Value);
    }

    [Fact]
    public async Task Profile_AfterTheKeyExpires_HoldsNoKey()
    {
        await Client(Token).ImportSshPublicKeyAsync(User, PublicKey, _clock.GetUtcNow().AddMinutes(30), CancellationToken.None);

        _clock.Advance(TimeSpan.FromMinutes(30));
        var profile = await Client(Token).GetLoginProfileAsync(User, null, CancellationToken.None);

        Assert.Empty(profile.SshPublicKeys!);
        Assert.Empty(_harness.Simulator.OsLoginKeys(User));
        Assert.Equal("sa_launch", profile.PrimaryAccount!.Username);
    }

    [Fact]
    public async Task Import_WithoutToken_Is401_AndForAnotherAccount_Is403()
    {
        var anonymous = await Assert.ThrowsAsync<GoogleApiException>(() => Client(null).ImportSshPublicKeyAsync(User, PublicKey, _clock.GetUtcNow().AddMinutes(30), CancellationToken.None));
        var other = await Assert.ThrowsAsync<GoogleApiException>(() => Client(OtherToken).ImportSshPublicKeyAsync(User, PublicKey, _clock.GetUtcNow().AddMinutes(30), CancellationToken.None));

        Assert.Equal(("UNAUTHENTICATED", "PERMISSION_DENIED"), (anonymous.Status, other.Status));
        Assert.Empty(_harness.Simulator.OsLoginKeys(User));
    }

    [Theory]
    [InlineData("""{"key":"ssh-ed25519 not-base64!"}""", "Invalid SSH public key")]
    [InlineData("""{"key":"ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIOq3mAhl5jGd0cRnQdZ8kMx0wKz1F4ZkUu1CdJ8Ywq1F"}""", "Invalid SSH public key")]
    [InlineData("""{"key":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq3mAhl5jGd0cRnQdZ8kMx0wKz1F4ZkUu1CdJ8Ywq1F","expirationTimeUsec":"soon"}""", "expiration_time_usec")]
    [InlineData("""{"key":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq3mAhl5jGd0cRnQdZ8kMx0wKz1F4ZkUu1CdJ8Ywq1F","expirationTimeUsec":"1000"}""", "in the past")]
    [InlineData("""{"key":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq3mAhl5jGd0cRnQdZ8kMx0wKz1F4ZkUu1CdJ8Ywq1F","fingerprint":"x"}""", "Unknown or output-only name \"fingerprint\"")]
    [InlineData("""["ssh-ed25519"]""", "must be an SshPublicKey")]
    public async Task Import_MalformedBody_Is400WithTheReason(string body, string reason)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_harness.Simulator.BaseUri, $"v1/users/{User}:importSshPublicKey?projectId={SimulatorHarness.Project}"))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);

        using var response = await _harness.Http.SendAsync(request);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("INVALID_ARGUMENT", (string?)error["status"]);
        Assert.Contains(reason, (string?)error["message"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Import_WithoutProjectId_AnswersAProfileWithoutPosixAccount()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_harness.Simulator.BaseUri, $"v1/users/{User}:importSshPublicKey"))
        {
            Content = new StringContent($$"""{"key":"{{PublicKey}}"}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);

        using var response = await _harness.Http.SendAsync(request);
        var profile = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["loginProfile"]!.AsObject();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(profile.ContainsKey("posixAccounts"));
        Assert.Equal(DateTimeOffset.MaxValue, Assert.Single(_harness.Simulator.OsLoginKeys(User)).Value);
    }

    [Theory]
    [InlineData(null, false, false, "enable-oslogin unset")]
    [InlineData("true", false, true, "project metadata enable-oslogin=true")]
    [InlineData("FALSE", true, true, "organisation policy")]
    public async Task Detect_Auto_ReadsTheStandInsPolicyAndProjectMetadata(string? metadata, bool enforced, bool osLogin, string reason)
    {
        var project = $"p-{Guid.NewGuid():N}"[..20];
        if (metadata is not null)
        {
            _harness.Simulator.SetProjectMetadata(project, "enable-oslogin", metadata);
        }

        _harness.Simulator.RequireOsLogin(project, enforced);
        var detector = new SshLoginDetector(new GoogleApiTransport(_harness.Http, new FixedTokenSource(Token)), project, _harness.Simulator.BaseUri, _harness.Simulator.BaseUri);

        var mode = await detector.DetectAsync(SshLoginSetting.Auto, CancellationToken.None);

        Assert.Equal(osLogin, mode.OsLogin);
        Assert.Contains(reason, mode.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ComputeProjectsGet_WithoutToken_Is401()
    {
        var detector = new SshLoginDetector(new GoogleApiTransport(_harness.Http, FixedTokenSource.None), SimulatorHarness.Project, _harness.Simulator.BaseUri, _harness.Simulator.BaseUri);

        var error = await Assert.ThrowsAsync<GoogleApiException>(() => detector.DetectAsync(SshLoginSetting.Auto, CancellationToken.None));

        Assert.Equal("UNAUTHENTICATED", error.Status);
    }

    private OsLoginClient Client(string? token) =>
        new(new GoogleApiTransport(_harness.Http, token is null ? FixedTokenSource.None : new FixedTokenSource(token)), SimulatorHarness.Project, _harness.Simulator.BaseUri);
}
