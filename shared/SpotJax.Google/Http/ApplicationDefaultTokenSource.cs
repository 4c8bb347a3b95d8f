using Google.Apis.Auth.OAuth2;

namespace SpotJax.Google.Http;

/// <summary>
/// Application Default Credentials with the <c>cloud-platform</c> scope: the service account of the
/// Cloud Run service, or the user's <c>gcloud auth application-default login</c> on a laptop. The
/// library caches the token and refreshes it before it expires.
/// </summary>
public sealed class ApplicationDefaultTokenSource : IAccessTokenSource
{
    public const string CloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform";

    private readonly SemaphoreSlim gate = new(1, 1);
    private GoogleCredential? credential;

    public async Task<string?> GetAccessTokenAsync(bool refresh, CancellationToken cancellationToken)
    {
        var current = await CredentialAsync(refresh, cancellationToken);
        return await current.UnderlyingCredential.GetAccessTokenForRequestAsync(cancellationToken: cancellationToken);
    }

    private async Task<GoogleCredential> CredentialAsync(bool refresh, CancellationToken cancellationToken)
    {
        await gate.WaitAsync(cancellationToken);
        try
        {
            // After a 401 a new credential drops the cached token (revoked keys, rotated accounts).
            if (credential is null || refresh)
            {
                var found = await GoogleCredential.GetApplicationDefaultAsync(cancellationToken);
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
