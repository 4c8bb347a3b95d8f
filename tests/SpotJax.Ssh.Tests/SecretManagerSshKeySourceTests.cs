using System.Net;
using System.Text;
using SpotJax.Core.Ports;
using SpotJax.Core;

namespace SpotJax.Ssh.Tests;

/// <summary><see cref="SecretManagerSshKeySource"/> against a loopback stand-in answering as the real API does.</summary>
public sealed class SecretManagerSshKeySourceTests : IDisposable
{
    private const string Key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";

    // CRC-32C (Castagnoli) of Key's UTF-8 bytes, worked out apart from the code under test.
    private const long KeyCrc32c = 842387840;

    private readonly HttpListener listener = new();
    private readonly HttpClient http = new();
    private readonly Uri root;

    public SecretManagerSshKeySourceTests()
    {
        root = new Uri($"http://127.0.0.1:{LoopbackPorts.Choose()}/");
        listener.Prefixes.Add(root.ToString());
        listener.Start();
    }

    [Fact]
    public async Task GetPrivateKeyAsync_LatestVersion_DecodesPayloadAndSendsTheToken()
    {
        var source = new SecretManagerSshKeySource(http, "my-project", "spotjax-ssh", _ => Task.FromResult<string?>("ya29.token"), root);
        var body = $$$"""{"name": "projects/123456789/secrets/spotjax-ssh/versions/3", "payload": {"data": "{{{Convert.ToBase64String(Encoding.UTF8.GetBytes(Key))}}}", "dataCrc32c": "{{{KeyCrc32c}}}"}}""";

        var (key, request) = await ServeAsync(source, 200, body);

        Assert.Equal(Key, Encoding.UTF8.GetString(key!));
        Assert.Equal("/v1/projects/my-project/secrets/spotjax-ssh/versions/latest:access", request.Path);
        Assert.Equal("Bearer ya29.token", request.Authorization);
    }

    [Fact]
    public async Task GetPrivateKeyAsync_ChecksumAsJsonNumber_ReturnsTheKey()
    {
        var source = NewSource();
        var body = $$$"""{"name": "projects/123456789/secrets/spotjax-ssh/versions/3", "payload": {"data": "{{{Base64(Key)}}}", "dataCrc32c": {{{KeyCrc32c}}}}}""";

        var (key, _) = await ServeAsync(source, 200, body);

        Assert.Equal(Key, Encoding.UTF8.GetString(key!));
    }

    [Fact]
    public async Task GetPrivateKeyAsync_NoChecksum_ReturnsTheKey()
    {
        var source = NewSource();
        var body = $$$"""{"name": "projects/123456789/secrets/spotjax-ssh/versions/3", "payload": {"data": "{{{Base64(Key)}}}"}}""";

        var (key, _) = await ServeAsync(source, 200, body);

        Assert.Equal(Key, Encoding.UTF8.GetString(key!));
    }

    [Fact]
    public async Task GetPrivateKeyAsync_ChecksumDoesNotMatch_RefusesTheKeyNamingTheVersion()
    {
        var source = NewSource();
        var body = $$$"""{"name": "projects/123456789/secrets/spotjax-ssh/versions/3", "payload": {"data": "{{{Base64(Key)}}}", "dataCrc32c": "{{{KeyCrc32c + 1}}}"}}""";

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => ServeAsync(source, 200, body));

        Assert.Contains("checksum did not match", error.Message, StringComparison.Ordinal);
        Assert.Contains("projects/123456789/secrets/spotjax-ssh/versions/3", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("b3BlbnNzaC1rZXktdjEAAAAA", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Base64(Key), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetPrivateKeyAsync_ChecksumNotAnInteger_FailsAsNotASecretVersion()
    {
        var source = NewSource();
        var body = $$$"""{"name": "projects/123456789/secrets/spotjax-ssh/versions/3", "payload": {"data": "{{{Base64(Key)}}}", "dataCrc32c": "0x3235AA80"}}""";

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => ServeAsync(source, 200, body));

        Assert.Contains("not a secret version", error.Message, StringComparison.Ordinal);
    }

    // Published CRC-32C check values ("123456789", then 32 zero bytes, in base64): they tell Castagnoli
    // apart from the IEEE CRC-32, whose check value for "123456789" is 0xCBF43926.
    [Theory]
    [InlineData("MTIzNDU2Nzg5", 0xE3069283)]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 0x8A9136AA)]
    public async Task GetPrivateKeyAsync_PublishedCrc32cCheckValue_IsAccepted(string data, uint crc32c)
    {
        var source = NewSource();
        var body = $$$"""{"name": "projects/123456789/secrets/spotjax-ssh/versions/3", "payload": {"data": "{{{data}}}", "dataCrc32c": "{{{crc32c}}}"}}""";

        var (key, _) = await ServeAsync(source, 200, body);

        Assert.Equal(Convert.FromBase64String(data), key);
    }

    [Fact]
    public async Task GetPrivateKeyAsync_NoSuchSecret_FailsForGoodWithTheApiMessage()
    {
        var source = new SecretManagerSshKeySource(http, "my-project", "missing", _ => Task.FromResult<string?>(null), root);
        const string body = """{"error": {"code": 404, "message": "Secret [projects/123456789/secrets/missing] not found or has no versions.", "status": "NOT_FOUND"}}""";

        var error = await Assert.ThrowsAsync<GoogleApiException>(() => ServeAsync(source, 404, body));

        Assert.Equal("NOT_FOUND", error.Status);
        Assert.False(error.IsTransient);
        Assert.Contains("not found or has no versions", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetPrivateKeyAsync_ServiceUnavailable_IsTransient()
    {
        var source = new SecretManagerSshKeySource(http, "my-project", "spotjax-ssh", _ => Task.FromResult<string?>("t"), root);
        const string body = """{"error": {"code": 503, "message": "The service is currently unavailable.", "status": "UNAVAILABLE"}}""";

        var error = await Assert.ThrowsAsync<TransientException>(() => ServeAsync(source, 503, body));

        Assert.Contains("currently unavailable", error.Message, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        listener.Close();
        http.Dispose();
    }

    private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private SecretManagerSshKeySource NewSource() =>
        new(http, "my-project", "spotjax-ssh", _ => Task.FromResult<string?>("t"), root);

    private async Task<(byte[]? Key, (string Path, string? Authorization) Request)> ServeAsync(SecretManagerSshKeySource source, int status, string body)
    {
        var calling = source.GetPrivateKeyAsync(CancellationToken.None);
        var context = await listener.GetContextAsync();
        var request = (context.Request.Url!.AbsolutePath, context.Request.Headers["Authorization"]);
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=UTF-8";
        await context.Response.OutputStream.WriteAsync(Encoding.UTF8.GetBytes(body));
        context.Response.Close();
        return (await calling, request);
    }
}
