using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using SpotJax.TpuSimulation;

namespace SpotJax.Tpu.Tests;

/// <summary>The simulator's Secret Manager stand-in, read as a node agent reads it: with its node's metadata token.</summary>
public sealed class SecretManagerStandInTests : IAsyncLifetime
{
    private SimulatorHarness _harness = null!;

    public async Task InitializeAsync() => _harness = await SimulatorHarness.StartAsync();

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task Token_FromTheNodeMetadataServer_IsABearerTokenAndNeedsTheFlavorHeader()
    {
        var zone = SimulatorHarness.NewZone();
        var id = await _harness.CreateAsync(zone);
        var url = new Uri(_harness.Simulator.MetadataUrl(zone, id), "instance/service-accounts/default/token");

        using var withoutHeader = await _harness.Http.GetAsync(url);
        var token = await TokenAsync(zone, id);

        Assert.Equal(HttpStatusCode.Forbidden, withoutHeader.StatusCode);
        Assert.StartsWith("ya29.", token, StringComparison.Ordinal);
        Assert.Equal(token, await TokenAsync(zone, id));
    }

    [Fact]
    public async Task Access_WithTheNodeToken_AnswersPayloadAndItsCrc32c()
    {
        var zone = SimulatorHarness.NewZone();
        var id = await _harness.CreateAsync(zone);
        var first = _harness.Simulator.AddSecret(SimulatorHarness.Project, "spotjax-job-wandb", "old value");
        var second = _harness.Simulator.AddSecret(SimulatorHarness.Project, "spotjax-job-wandb", "sk-ünïcode 123");
        var token = await TokenAsync(zone, id);

        var latest = await AccessAsync($"projects/{SimulatorHarness.Project}/secrets/spotjax-job-wandb/versions/latest", token);
        var one = await AccessAsync($"projects/{SimulatorHarness.Project}/secrets/spotjax-job-wandb/versions/1", token);

        Assert.Equal((1, 2), (first, second));
        Assert.Equal(HttpStatusCode.OK, latest.Status);
        Assert.Equal($"projects/{SimulatorHarness.Project}/secrets/spotjax-job-wandb/versions/2", (string?)latest.Body["name"]);
        var data = Convert.FromBase64String((string)latest.Body["payload"]!["data"]!);
        Assert.Equal("sk-ünïcode 123", Encoding.UTF8.GetString(data));
        // Secret Manager's int64 is a decimal string; CRC32C("123456789") is the standard check value 0xE3069283.
        Assert.Equal(SimulatedSecrets.Crc32C(data).ToString(CultureInfo.InvariantCulture), (string?)latest.Body["payload"]!["dataCrc32c"]);
        Assert.Equal(0xE3069283u, SimulatedSecrets.Crc32C("123456789"u8));
        Assert.Equal("old value", Encoding.UTF8.GetString(Convert.FromBase64String((string)one.Body["payload"]!["data"]!)));
    }

    [Fact]
    public async Task Access_WithoutAToken_WithAStrangeOne_OrAfterTheNodeIsDeleted_Is401()
    {
        var zone = SimulatorHarness.NewZone();
        var id = await _harness.CreateAsync(zone);
        _harness.Simulator.AddSecret(SimulatorHarness.Project, "s-1", "value");
        var name = $"projects/{SimulatorHarness.Project}/secrets/s-1/versions/latest";
        var token = await TokenAsync(zone, id);

        var none = await AccessAsync(name, null);
        var strange = await AccessAsync(name, "ya29.not-from-the-metadata-server");
        var valid = await AccessAsync(name, token);
        // The harness deletes without delay: the node is gone when the call returns.
        await _harness.Client.DeleteQueuedResourceAsync(zone, id, force: true, SimulatorHarness.NewId("req"), CancellationToken.None);
        var afterDelete = await AccessAsync(name, token);

        Assert.Equal((HttpStatusCode.Unauthorized, "UNAUTHENTICATED"), (none.Status, (string?)none.Body["error"]!["status"]));
        Assert.Equal(HttpStatusCode.Unauthorized, strange.Status);
        Assert.Equal(HttpStatusCode.OK, valid.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, afterDelete.Status);
    }

    [Theory]
    [InlineData("projects/spotjax-test/secrets/missing/versions/latest", HttpStatusCode.NotFound, "NOT_FOUND")]
    [InlineData("projects/spotjax-test/secrets/s-1/versions/2", HttpStatusCode.NotFound, "NOT_FOUND")]
    [InlineData("projects/other-project/secrets/s-1/versions/1", HttpStatusCode.NotFound, "NOT_FOUND")]
    [InlineData("projects/spotjax-test/secrets/s-1", HttpStatusCode.BadRequest, "INVALID_ARGUMENT")]
    [InlineData("projects/spotjax-test/secrets/s-1/versions/0", HttpStatusCode.BadRequest, "INVALID_ARGUMENT")]
    [InlineData("projects/spotjax-test/secrets/s-1/versions/newest", HttpStatusCode.BadRequest, "INVALID_ARGUMENT")]
    [InlineData("projects/spotjax-test/secrets/s.1/versions/1", HttpStatusCode.BadRequest, "INVALID_ARGUMENT")]
    [InlineData("projects/Spotjax/secrets/s-1/versions/1", HttpStatusCode.BadRequest, "INVALID_ARGUMENT")]
    public async Task Access_UnknownOrMalformedName_AnswersTheServiceError(string name, HttpStatusCode status, string code)
    {
        var zone = SimulatorHarness.NewZone();
        var id = await _harness.CreateAsync(zone);
        _harness.Simulator.AddSecret(SimulatorHarness.Project, "s-1", "kept-inside-42");

        var answer = await AccessAsync(name, await TokenAsync(zone, id));

        Assert.Equal((status, code), (answer.Status, (string?)answer.Body["error"]!["status"]));
        Assert.DoesNotContain(Convert.ToBase64String("kept-inside-42"u8), answer.Body.ToJsonString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Bad Project", "s")]
    [InlineData("spotjax-test", "a/b")]
    [InlineData("spotjax-test", "")]
    public void AddSecret_NameOutsideSecretManagerRules_IsRefused(string project, string secretId)
    {
        Assert.Throws<InvalidOperationException>(() => _harness.Simulator.AddSecret(project, secretId, "v"));
    }

    private async Task<string> TokenAsync(string zone, string id)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_harness.Simulator.MetadataUrl(zone, id), "instance/service-accounts/default/token"));
        request.Headers.Add("Metadata-Flavor", "Google");
        using var response = await _harness.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("Bearer", (string?)body["token_type"]);
        Assert.True((int)body["expires_in"]! > 0);
        return (string)body["access_token"]!;
    }

    private async Task<(HttpStatusCode Status, JsonNode Body)> AccessAsync(string name, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_harness.Simulator.BaseUri, $"v1/{name}:access"));
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        using var response = await _harness.Http.SendAsync(request);
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }
}
