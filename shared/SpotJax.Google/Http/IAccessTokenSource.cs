namespace SpotJax.Google.Http;

/// <summary>Where a client's bearer token comes from; null means "send no Authorization header".</summary>
public interface IAccessTokenSource
{
    /// <param name="refresh">Set after a 401: a cached token must not be reused.</param>
    Task<string?> GetAccessTokenAsync(bool refresh, CancellationToken cancellationToken);

    /// <summary>
    /// The project the calls are billed to and counted against, sent as <c>x-goog-user-project</c>;
    /// null (the default) sends no header, which leaves the quota project to the credential's principal.
    /// </summary>
    Task<string?> GetQuotaProjectAsync(CancellationToken cancellationToken) => Task.FromResult<string?>(null);
}
