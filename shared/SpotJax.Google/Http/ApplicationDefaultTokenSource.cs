using Google.Apis.Auth.OAuth2;

namespace SpotJax.Google.Http;

/// <summary>
/// Application Default Credentials with the <c>cloud-platform</c> scope: the service account of the
/// Cloud Run service, or the user's <c>gcloud auth application-default login</c> on a laptop. The
/// library caches the token and refreshes it before it expires.
/// </summary>
/// <remarks>
/// The quota project follows https://cloud.google.com/docs/quotas/set-quota-project: the
/// <c>GOOGLE_CLOUD_QUOTA_PROJECT</c> variable wins over the credentials' own <c>quota_project_id</c> (as
/// Google's auth libraries apply it to ADC: Google.Apis.Auth <c>GoogleAuthConsts.QuotaProjectEnvironmentVariable</c>,
/// google-auth-library-python PR #1163). A person's credentials without one fall back on
/// <paramref name="userQuotaProject"/> (the CLI: gcloud's <c>billing/quota_project</c>). Service-account and
/// metadata-server credentials send none unless one of the first two sets it: their quota goes to the
/// service account's project.
/// </remarks>
/// <param name="load">Finds the credentials; <see cref="GoogleCredential.GetApplicationDefaultAsync(CancellationToken)"/> when null.</param>
/// <param name="environment">A variable's value by name; the process environment when null.</param>
/// <param name="userQuotaProject">The quota project for a person's credentials that name none.</param>
public sealed class ApplicationDefaultTokenSource(
    Func<CancellationToken, Task<GoogleCredential>>? load = null,
    Func<string, string?>? environment = null,
    Func<string?>? userQuotaProject = null) : IAccessTokenSource
{
    public const string CloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform";

    /// <summary>The variable Google's client libraries read for a quota project that overrides the credentials'.</summary>
    public const string QuotaProjectVariable = "GOOGLE_CLOUD_QUOTA_PROJECT";

    private readonly Func<CancellationToken, Task<GoogleCredential>> load = load ?? GoogleCredential.GetApplicationDefaultAsync;
    private readonly Func<string, string?> environment = environment ?? Environment.GetEnvironmentVariable;
    private readonly SemaphoreSlim gate = new(1, 1);
    private GoogleCredential? credential;

    public async Task<string?> GetAccessTokenAsync(bool refresh, CancellationToken cancellationToken)
    {
        var current = await CredentialAsync(refresh, cancellationToken);
        return await current.UnderlyingCredential.GetAccessTokenForRequestAsync(cancellationToken: cancellationToken);
    }

    public async Task<string?> GetQuotaProjectAsync(CancellationToken cancellationToken)
    {
        if (environment(QuotaProjectVariable) is { Length: > 0 } fromEnvironment)
        {
            return fromEnvironment;
        }

        var current = await CredentialAsync(refresh: false, cancellationToken);
        if (current.QuotaProject is { Length: > 0 } fromCredentials)
        {
            return fromCredentials;
        }

        return current.UnderlyingCredential is UserCredential && userQuotaProject?.Invoke() is { Length: > 0 } configured ? configured : null;
    }

    private async Task<GoogleCredential> CredentialAsync(bool refresh, CancellationToken cancellationToken)
    {
        await gate.WaitAsync(cancellationToken);
        try
        {
            // After a 401 a new credential drops the cached token (revoked keys, rotated accounts).
            if (credential is null || refresh)
            {
                var found = await load(cancellationToken);
                credential = found.IsCreateScopedRequired ? found.CreateScoped(CloudPlatformScope) : found;
            }

            return credential;
        }
        finally
        {
            gate.Release();
        }
    }
}
