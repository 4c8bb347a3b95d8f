using System.Globalization;
using System.IO.Hashing;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using SpotJax.Core.Ports;

namespace SpotJax.Ssh;

/// <summary>
/// The Google Cloud key source: the latest version of a Secret Manager secret, read through the REST
/// API (<c>GET v1/projects/P/secrets/S/versions/latest:access</c>, whose <c>payload.data</c> is the key
/// in base64). When the answer carries <c>payload.dataCrc32c</c>, the decoded key must match it. The key
/// is never written to disk.
/// </summary>
public sealed class SecretManagerSshKeySource : ISshKeySource
{
    private readonly HttpClient http;
    private readonly Uri accessUri;
    private readonly string versionName;
    private readonly Func<CancellationToken, Task<string?>> accessToken;

    /// <param name="http">The client to send the call with.</param>
    /// <param name="project">Project id or number owning the secret.</param>
    /// <param name="secret">Secret id.</param>
    /// <param name="accessToken">An OAuth access token for the call; null sends none (a local stand-in).</param>
    /// <param name="baseUri">API root, <c>https://secretmanager.googleapis.com/</c> unless a stand-in answers instead.</param>
    public SecretManagerSshKeySource(HttpClient http, string project, string secret, Func<CancellationToken, Task<string?>> accessToken, Uri? baseUri = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentException.ThrowIfNullOrEmpty(project);
        ArgumentException.ThrowIfNullOrEmpty(secret);
        ArgumentNullException.ThrowIfNull(accessToken);
        this.http = http;
        this.accessToken = accessToken;
        var root = baseUri ?? new Uri("https://secretmanager.googleapis.com/");
        versionName = $"projects/{Uri.EscapeDataString(project)}/secrets/{Uri.EscapeDataString(secret)}/versions/latest";
        accessUri = new Uri(root, $"v1/{versionName}:access");
    }

    /// <inheritdoc />
    /// <exception cref="TransientException">A failure worth retrying later (429, 5xx, the network).</exception>
    /// <exception cref="GoogleApiException">The API refused the call for good (no such secret, no permission).</exception>
    /// <exception cref="InvalidOperationException">The answer is not a secret version, or its payload does not match its checksum.</exception>
    public async Task<byte[]> GetPrivateKeyAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, accessUri);
        if (await accessToken(cancellationToken) is { } token)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new TransientException($"Secret Manager unreachable: {e.Message}", e);
        }

        using (response)
        {
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                var error = ReadError(response.StatusCode, body);
                throw error.IsTransient || (int)response.StatusCode >= 500 || response.StatusCode == HttpStatusCode.TooManyRequests
                    ? new TransientException($"reading the SSH key from Secret Manager: {error.Message}", error)
                    : error;
            }

            return ReadPayload(body);
        }
    }

    private byte[] ReadPayload(byte[] body)
    {
        var (key, expectedCrc32c, version) = ParseVersion(body);
        if (expectedCrc32c is { } expected && Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, key) != expected)
        {
            CryptographicOperations.ZeroMemory(key);
            throw new InvalidOperationException($"Secret Manager answered {version} with a payload whose checksum did not match its dataCrc32c (CRC32C): the key was damaged on the way and is not used");
        }

        return key;
    }

    private (byte[] Key, long? Crc32c, string Version) ParseVersion(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.TryGetProperty("payload", out var payload) &&
                payload.TryGetProperty("data", out var data) && data.GetString() is { Length: > 0 } encoded)
            {
                var version = root.TryGetProperty("name", out var name) && name.GetString() is { Length: > 0 } answered ? answered : versionName;
                var crc32c = ReadCrc32c(payload);
                return (Convert.FromBase64String(encoded), crc32c, version);
            }
        }
        catch (Exception e) when (e is JsonException or FormatException or OverflowException or InvalidOperationException)
        {
            throw new InvalidOperationException($"Secret Manager answered something that is not a secret version: {e.Message}", e);
        }

        throw new InvalidOperationException("Secret Manager answered a secret version without payload.data");
    }

    /// <summary>
    /// <c>payload.dataCrc32c</c> is optional; proto3 JSON writes this int64 as a decimal string, and a
    /// number is accepted as well.
    /// </summary>
    private static long? ReadCrc32c(JsonElement payload) =>
        !payload.TryGetProperty("dataCrc32c", out var crc) || crc.ValueKind == JsonValueKind.Null ? null
        : crc.ValueKind == JsonValueKind.String ? long.Parse(crc.GetString()!, NumberStyles.None, CultureInfo.InvariantCulture)
        : crc.GetInt64();

    /// <summary>The REST error envelope <c>{"error":{"code","message","status"}}</c>, or the bare HTTP status.</summary>
    private static GoogleApiException ReadError(HttpStatusCode status, byte[] body)
    {
        string? name = null;
        string? message = null;
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
            {
                name = error.TryGetProperty("status", out var s) ? s.GetString() : null;
                message = error.TryGetProperty("message", out var m) ? m.GetString() : null;
            }
        }
        catch (JsonException)
        {
            // A proxy's HTML page: the HTTP status is all there is.
        }

        return new GoogleApiException(status, name ?? status.ToString(), message ?? "no error message");
    }
}
