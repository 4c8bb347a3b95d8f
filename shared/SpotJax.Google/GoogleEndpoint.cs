using SpotJax.Google.Http;

namespace SpotJax.Google;

/// <summary>Where one Google service's calls go and which token they carry.</summary>
/// <param name="BaseUri">The API root, ending in <c>/</c>; the clients append <c>v1/...</c> or <c>v2/...</c>.</param>
/// <param name="Tokens">The bearer token source: Application Default Credentials in production, a fixed token (or none) for a local stand-in.</param>
/// <param name="IsLocal">True when an environment variable pointed the service at an emulator or simulator.</param>
public sealed record GoogleEndpoint(Uri BaseUri, IAccessTokenSource Tokens, bool IsLocal)
{
    /// <summary>The transport for this endpoint's clients.</summary>
    public GoogleApiTransport CreateTransport(HttpClient http, GoogleApiOptions? options = null, TimeProvider? time = null) =>
        new(http, Tokens, options, time);
}
