namespace SpotJax.Google.Http;

/// <summary>Where a client's bearer token comes from; null means "send no Authorization header".</summary>
public interface IAccessTokenSource
{
    /// <param name="refresh">Set after a 401: a cached token must not be reused.</param>
    Task<string?> GetAccessTokenAsync(bool refresh, CancellationToken cancellationToken);
}
