using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using SpotJax.Core.Ports;
using SpotJax.Google.Http;
using SpotJax.Google.OsLogin;

namespace SpotJax.Tpu.Tests;

/// <summary>
/// The OS Login client, the key session and the login mode detection against the documented request
/// and response payloads. The fixtures are written from google/cloud/oslogin/v1/oslogin.proto,
/// oslogin/common/common.proto, compute/v1/compute.proto (Project, Metadata, Items) and
/// orgpolicy/v2/orgpolicy.proto (Policy, PolicySpec.PolicyRule) in proto3 JSON, not recorded from the service.
/// </summary>
public sealed class OsLoginContractTests
{
    private const string User = "spotjax-launch@spotjax-prod.iam.gserviceaccount.com";
    private const string PublicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq3mAhl5jGd0cRnQdZ8kMx0wKz1F4ZkUu1CdJ8Ywq1F spotjax";

    // 30 minutes before the fixture's expirationTimeUsec (2026-12-05T08:00:00Z).
    private static readonly DateTimeOffset Start = new(2026, 12, 5, 7, 30, 0, TimeSpan.Zero);

    [Fact]
    public async Task Import_SendsTheSshPublicKeyBodyToTheUsersPath_AndReadsTheProfileOfTheAnswer()
    {
        await using var server = await FixtureServer.StartAsync(HttpStatusCode.OK, Payloads.Read("oslogin-import-response.json"));
        var client = Client(server);

        var answer = await client.ImportSshPublicKeyAsync(User, PublicKey + "\n", Start.AddMinutes(30), CancellationToken.None);

        var request = Assert.Single(server.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal($"/v1/users/{User}:importSshPublicKey?projectId={Payloads.Project}", request.PathAndQuery);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(Payloads.Read("oslogin-import-request.json")), JsonNode.Parse(request.Body)), request.Body);
        var account = answer.LoginProfile!.PrimaryAccount!;
        Assert.Equal("sa_107314865234902381234", account.Username);
        Assert.Equal(1467283945, account.Uid);
        Assert.Equal("/home/sa_107314865234902381234", account.HomeDirectory);
        var key = Assert.Single(answer.LoginProfile.SshPublicKeys!).Value;
        Assert.Equal(Start.AddMinutes(30), OsLoginClient.FromUsec(key.ExpirationTimeUsec!.Value));
    }

    [Fact]
    public async Task GetLoginProfile_SendsProjectAndSystemId_AndThePrimaryAccountIsTheMarkedOne()
    {
        await using var server = await FixtureServer.StartAsync(HttpStatusCode.OK, Payloads.Read("oslogin-login-profile.json"));

        var profile = await Client(server).GetLoginProfileAsync(User, "linux", CancellationToken.None);

        Assert.Equal($"/v1/users/{User}/loginProfile?projectId={Payloads.Project}&systemId=linux", Assert.Single(server.Requests).PathAndQuery);
        Assert.Equal(2, profile.PosixAccounts!.Count);
        Assert.Equal("sa_107314865234902381234", profile.PrimaryAccount!.Username);
    }

    [Fact]
    public async Task Import_PermissionDenied_IsAGoogleApiExceptionWithTheEnvelopeStatus()
    {
        await using var server = await FixtureServer.StartAsync(HttpStatusCode.Forbidden, Payloads.Read("oslogin-permission-denied-403.json"));

        var error = await Assert.ThrowsAsync<GoogleApiException>(() => Client(server).ImportSshPublicKeyAsync(User, PublicKey, Start.AddMinutes(30), CancellationToken.None));

        Assert.Equal("PERMISSION_DENIED", error.Status);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task Session_ImportAnswerWithoutPosixAccount_ReadsTheLoginProfileForTheUserName()
    {
        await using var server = await FixtureServer.StartAsync(r => r.Method == "POST"
            ? (HttpStatusCode.OK, Payloads.Read("oslogin-profile-no-posix.json"))
            : (HttpStatusCode.OK, Payloads.Read("oslogin-login-profile.json")));
        using var session = new OsLoginSession(Client(server), new OsLoginSessionOptions { User = User, PublicKey = PublicKey }, new FakeTimeProvider(Start));

        var user = await session.LoginUserAsync(CancellationToken.None);

        Assert.Equal("sa_107314865234902381234", user);
        Assert.Equal(["POST", "GET"], server.Requests.Select(r => r.Method));
    }

    [Fact]
    public async Task Session_KeyStillValidBeyondTheMargin_IsNotImportedAgain_ButIsWhenTheMarginIsReached()
    {
        await using var server = await FixtureServer.StartAsync(HttpStatusCode.OK, Payloads.Read("oslogin-import-response.json"));
        var clock = new FakeTimeProvider(Start);
        using var session = new OsLoginSession(Client(server), new OsLoginSessionOptions { User = User, PublicKey = PublicKey }, clock);

        await session.LoginUserAsync(CancellationToken.None);
        clock.Advance(TimeSpan.FromMinutes(19));
        await session.LoginUserAsync(CancellationToken.None);
        var importsWithElevenMinutesLeft = session.Imports;
        clock.Advance(TimeSpan.FromMinutes(1));
        await session.LoginUserAsync(CancellationToken.None);

        Assert.Equal(1, importsWithElevenMinutesLeft);
        Assert.Equal(2, session.Imports);
        var second = JsonNode.Parse(server.Requests[1].Body)!;
        Assert.Equal(OsLoginClient.ToUsec(Start.AddMinutes(50)).ToString(System.Globalization.CultureInfo.InvariantCulture), (string?)second["expirationTimeUsec"]);
    }

    [Theory]
    [InlineData("orgpolicy-require-oslogin-enforced.json", "compute-project-no-oslogin.json", true, "organisation policy constraints/compute.requireOsLogin is enforced")]
    [InlineData("orgpolicy-require-oslogin-not-set.json", "compute-project-oslogin.json", true, "project metadata enable-oslogin=TRUE; constraints/compute.requireOsLogin not enforced")]
    [InlineData("orgpolicy-require-oslogin-not-set.json", "compute-project-no-oslogin.json", false, "project metadata enable-oslogin unset; constraints/compute.requireOsLogin not enforced")]
    [InlineData("oslogin-permission-denied-403.json", "compute-project-no-oslogin.json", false, "project metadata enable-oslogin unset; constraints/compute.requireOsLogin unreadable: PERMISSION_DENIED")]
    public async Task Detect_Auto_FollowsTheOrganisationPolicyThenTheProjectMetadata(string policy, string project, bool osLogin, string reason)
    {
        await using var server = await FixtureServer.StartAsync(r => r.PathAndQuery.StartsWith("/v2/", StringComparison.Ordinal)
            ? (policy.Contains("403", StringComparison.Ordinal) ? HttpStatusCode.Forbidden : HttpStatusCode.OK, Payloads.Read(policy))
            : (HttpStatusCode.OK, Payloads.Read(project)));

        var mode = await Detector(server).DetectAsync(SshLoginSetting.Auto, CancellationToken.None);

        Assert.Equal(new SshLoginMode(osLogin, reason), mode);
        // The policy first; the project's metadata only when the policy does not decide.
        string[] calls = [$"/v2/projects/{Payloads.Project}/policies/compute.requireOsLogin:getEffectivePolicy", $"/compute/v1/projects/{Payloads.Project}"];
        Assert.Equal(reason.StartsWith("organisation", StringComparison.Ordinal) ? calls[..1] : calls, server.Requests.Select(r => r.PathAndQuery));
    }

    [Theory]
    [InlineData(SshLoginSetting.OsLogin, true)]
    [InlineData(SshLoginSetting.Metadata, false)]
    public async Task Detect_ExplicitSetting_CallsNothing(SshLoginSetting setting, bool osLogin)
    {
        await using var server = await FixtureServer.StartAsync(HttpStatusCode.InternalServerError, "{}");

        var mode = await Detector(server).DetectAsync(setting, CancellationToken.None);

        Assert.Equal(osLogin, mode.OsLogin);
        Assert.StartsWith("deployment setting ssh_login=", mode.Reason, StringComparison.Ordinal);
        Assert.Empty(server.Requests);
    }

    [Theory]
    [InlineData(null, SshLoginSetting.Auto)]
    [InlineData("auto", SshLoginSetting.Auto)]
    [InlineData(" OSLogin ", SshLoginSetting.OsLogin)]
    [InlineData("metadata", SshLoginSetting.Metadata)]
    public void ParseSetting_KnownValue_IsThatSetting(string? value, SshLoginSetting expected) =>
        Assert.Equal(expected, SshLoginMode.ParseSetting(value));

    [Fact]
    public void ParseSetting_UnknownValue_SaysWhatIsExpected() =>
        Assert.Contains("expected auto, oslogin or metadata", Assert.Throws<ArgumentException>(() => SshLoginMode.ParseSetting("ssh-keys")).Message, StringComparison.Ordinal);

    private static OsLoginClient Client(FixtureServer server) =>
        new(new GoogleApiTransport(server.Http, FixedTokenSource.None), Payloads.Project, server.BaseUri);

    private static SshLoginDetector Detector(FixtureServer server) =>
        new(new GoogleApiTransport(server.Http, FixedTokenSource.None), Payloads.Project, server.BaseUri, server.BaseUri);
}
