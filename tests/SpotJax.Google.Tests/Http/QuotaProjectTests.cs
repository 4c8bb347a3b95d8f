using System.Security.Cryptography;
using System.Text.Json;
using Google.Apis.Auth.OAuth2;
using Google.Apis.Auth.OAuth2.Responses;
using SpotJax.Google.Http;

namespace SpotJax.Google.Tests.Http;

/// <summary>
/// <c>x-goog-user-project</c> on calls made through Application Default Credentials, against a loopback API stand-in:
/// sent for a person's credentials that have a quota project, never for a service account or the metadata server
/// unless <c>GOOGLE_CLOUD_QUOTA_PROJECT</c> asks for it.
/// </summary>
public sealed class QuotaProjectTests : IDisposable
{
    private const string TokenPath = "token";
    private readonly HttpClient _http = new();

    [Fact]
    public async Task SendAsync_UserCredentialsWithQuotaProject_SendsItAsUserProject()
    {
        await using var server = Api();
        var tokens = Source(UserCredentials(quotaProject: "adc-quota"));

        var request = await CallAsync(server, tokens);

        Assert.Equal("Bearer user-token", request.Authorization);
        Assert.Equal("adc-quota", request.UserProject);
    }

    [Fact]
    public async Task SendAsync_UserCredentialsWithoutQuotaProject_SendsGcloudsQuotaProject()
    {
        await using var server = Api();
        var tokens = Source(UserCredentials(quotaProject: null), userQuotaProject: "gcloud-quota");

        var request = await CallAsync(server, tokens);

        Assert.Equal("gcloud-quota", request.UserProject);
    }

    [Fact]
    public async Task SendAsync_QuotaProjectVariableSet_OverridesTheCredentialsQuotaProject()
    {
        await using var server = Api();
        var tokens = Source(UserCredentials(quotaProject: "adc-quota"), quotaProjectVariable: "env-quota", userQuotaProject: "gcloud-quota");

        var request = await CallAsync(server, tokens);

        Assert.Equal("env-quota", request.UserProject);
    }

    [Fact]
    public async Task SendAsync_UserCredentialsWithNoQuotaProjectAnywhere_SendsNoUserProject()
    {
        await using var server = Api();
        var tokens = Source(UserCredentials(quotaProject: null));

        var request = await CallAsync(server, tokens);

        Assert.Null(request.UserProject);
    }

    [Fact]
    public async Task SendAsync_ServiceAccountKey_SendsNoUserProjectEvenWithGcloudsQuotaProject()
    {
        await using var server = Api();
        var tokens = Source(ServiceAccount(server), userQuotaProject: "gcloud-quota");

        var request = await CallAsync(server, tokens);

        Assert.Equal("Bearer service-account-token", request.Authorization);
        Assert.Null(request.UserProject);
    }

    [Fact]
    public async Task SendAsync_MetadataServerCredentials_SendsNoUserProject()
    {
        await using var server = Api();
        var tokens = Source(GoogleCredential.FromComputeCredential(new ComputeCredential(new ComputeCredential.Initializer(new Uri(server.BaseUri, TokenPath).AbsoluteUri))), userQuotaProject: "gcloud-quota");

        var request = await CallAsync(server, tokens);

        Assert.Equal("Bearer service-account-token", request.Authorization);
        Assert.Null(request.UserProject);
    }

    [Fact]
    public async Task SendAsync_ServiceAccountWithQuotaProjectVariable_SendsIt()
    {
        await using var server = Api();
        var tokens = Source(ServiceAccount(server), quotaProjectVariable: "env-quota");

        var request = await CallAsync(server, tokens);

        Assert.Equal("env-quota", request.UserProject);
    }

    public void Dispose() => _http.Dispose();

    /// <summary>An API that answers every call, and token requests (service account, metadata server) with a token.</summary>
    private static StubApiServer Api() => StubApiServer.Start(request => request.PathAndQuery.StartsWith("/" + TokenPath, StringComparison.Ordinal)
        ? StubResponse.Ok("""{"access_token":"service-account-token","expires_in":3600,"token_type":"Bearer"}""")
        : StubResponse.Ok());

    private static ApplicationDefaultTokenSource Source(GoogleCredential credential, string? quotaProjectVariable = null, string? userQuotaProject = null) =>
        new(
            _ => Task.FromResult(credential),
            name => name == ApplicationDefaultTokenSource.QuotaProjectVariable ? quotaProjectVariable : null,
            () => userQuotaProject);

    private async Task<RecordedRequest> CallAsync(StubApiServer server, IAccessTokenSource tokens)
    {
        var transport = new GoogleApiTransport(_http, tokens);
        await transport.SendAsync(HttpMethod.Get, new Uri(server.BaseUri, "v1/projects/p/things/t"), null, idempotent: true, CancellationToken.None);
        return Assert.Single(server.Requests, request => request.PathAndQuery.StartsWith("/v1/", StringComparison.Ordinal));
    }

    /// <summary>
    /// What <c>gcloud auth application-default login</c> writes (<c>type: authorized_user</c>, with
    /// <c>quota_project_id</c> when it could set one), holding a fresh access token so no refresh leaves the machine.
    /// </summary>
    private static GoogleCredential UserCredentials(string? quotaProject)
    {
        var json = JsonSerializer.Serialize(new Dictionary<string, string?>
        {
            ["type"] = "authorized_user",
            ["client_id"] = "client.apps.googleusercontent.com",
            ["client_secret"] = "secret",
            ["refresh_token"] = "refresh",
            ["quota_project_id"] = quotaProject,
        });
        var credential = CredentialFactory.FromJson<UserCredential>(json).ToGoogleCredential();
        ((UserCredential)credential.UnderlyingCredential).Token = new TokenResponse
        {
            AccessToken = "user-token",
            RefreshToken = "refresh",
            ExpiresInSeconds = 3600,
            IssuedUtc = DateTime.UtcNow,
        };
        return credential;
    }

    /// <summary>A service-account key whose token endpoint is the stand-in.</summary>
    private static GoogleCredential ServiceAccount(StubApiServer server)
    {
        using var key = RSA.Create(2048);
        var json = JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["type"] = "service_account",
            ["project_id"] = "p",
            ["private_key_id"] = "k1",
            ["private_key"] = key.ExportPkcs8PrivateKeyPem(),
            ["client_email"] = "runner@p.iam.gserviceaccount.com",
            ["client_id"] = "1",
            ["token_uri"] = new Uri(server.BaseUri, TokenPath).AbsoluteUri,
        });
        return CredentialFactory.FromJson<ServiceAccountCredential>(json).ToGoogleCredential();
    }
}
