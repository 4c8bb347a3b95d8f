namespace SpotJax.Functions.Host;

/// <summary>
/// Verification of the OIDC token that Pub/Sub push subscriptions and Cloud Scheduler attach
/// (<c>pushConfig.oidcToken</c>, <c>httpTarget.oidcToken</c>).
/// </summary>
/// <param name="Audience">The audience the token must be issued for (the service URL).</param>
/// <param name="ServiceAccount">The only account allowed to call (the push or scheduler service account).</param>
public sealed record PushAuthOptions(string Audience, string ServiceAccount)
{
    /// <summary>How Google's signing certificates are fetched and time is read (the library's defaults when null).</summary>
    public global::Google.Apis.Auth.GoogleJsonWebSignature.ValidationSettings? Validation { get; init; }
}
