using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Google.Apis.Auth;
using Google.Apis.Http;

namespace SpotJax.Tests.Host;

/// <summary>
/// OIDC tokens as Google signs them for Pub/Sub pushes, signed here with a key of our own, and
/// validation settings under which Google.Apis.Auth fetches that key's JWKS instead of Google's:
/// the library's real validation (signature, issuer, expiry, audience) runs offline.
/// </summary>
public sealed class SignedTokens : IDisposable
{
    private const string KeyId = "spotjax-test-key";
    private readonly RSA key = RSA.Create(2048);

    public GoogleJsonWebSignature.ValidationSettings Settings => new()
    {
        HttpClientFactory = new CertificateServer(Jwks()),
        ForceGoogleCertRefresh = true,
    };

    public string Token(string audience, string email, bool verified = true, string issuer = "https://accounts.google.com", int expiresInSeconds = 3600)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = Encode(JsonSerializer.SerializeToUtf8Bytes(new { alg = "RS256", kid = KeyId, typ = "JWT" }));
        var payload = Encode(JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["iss"] = issuer,
            ["aud"] = audience,
            ["sub"] = "1234567890",
            ["email"] = email,
            ["email_verified"] = verified,
            ["iat"] = now,
            ["exp"] = now + expiresInSeconds,
        }));
        var signature = key.SignData(Encoding.ASCII.GetBytes($"{header}.{payload}"), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return $"{header}.{payload}.{Encode(signature)}";
    }

    private string Jwks()
    {
        var parameters = key.ExportParameters(includePrivateParameters: false);
        return JsonSerializer.Serialize(new
        {
            keys = new[] { new { kty = "RSA", alg = "RS256", use = "sig", kid = KeyId, n = Encode(parameters.Modulus!), e = Encode(parameters.Exponent!) } },
        });
    }

    private static string Encode(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public void Dispose() => key.Dispose();

    /// <summary>Answers the certificate request with our JWKS.</summary>
    private sealed class CertificateServer(string jwks) : HttpClientFactory
    {
        protected override HttpMessageHandler CreateHandler(CreateHttpClientArgs args) => new Answer(jwks);

        private sealed class Answer(string jwks) : HttpMessageHandler
        {
            protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
                Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(jwks, Encoding.UTF8, "application/json") });
        }
    }
}
