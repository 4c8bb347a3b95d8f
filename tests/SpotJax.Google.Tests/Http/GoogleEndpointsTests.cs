using SpotJax.Google.Http;

namespace SpotJax.Google.Tests.Http;

public sealed class GoogleEndpointsTests
{
    private readonly CountingTokenSource _applicationDefault = new();

    [Fact]
    public async Task PubSub_EmulatorHostSet_PlainHttpWithoutCredentials()
    {
        var endpoint = Endpoints(("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085")).PubSub;

        Assert.Equal(new Uri("http://127.0.0.1:8085/"), endpoint.BaseUri);
        Assert.True(endpoint.IsLocal);
        Assert.Null(await endpoint.Tokens.GetAccessTokenAsync(refresh: false, CancellationToken.None));
    }

    [Fact]
    public async Task Firestore_EmulatorHostSet_PlainHttpWithOwnerToken()
    {
        var endpoint = Endpoints(("FIRESTORE_EMULATOR_HOST", "localhost:8086")).Firestore;

        Assert.Equal(new Uri("http://localhost:8086/"), endpoint.BaseUri);
        Assert.True(endpoint.IsLocal);
        Assert.Equal("owner", await endpoint.Tokens.GetAccessTokenAsync(refresh: true, CancellationToken.None));
    }

    [Fact]
    public async Task Tpu_ApiVariableSet_ThatUrlWithoutCredentials()
    {
        var endpoint = Endpoints(("SPOTJAX_TPU_API", "http://127.0.0.1:9400/sim")).Tpu;

        Assert.Equal(new Uri("http://127.0.0.1:9400/sim/"), endpoint.BaseUri);
        Assert.True(endpoint.IsLocal);
        Assert.Null(await endpoint.Tokens.GetAccessTokenAsync(refresh: false, CancellationToken.None));
    }

    [Fact]
    public void AllServices_NothingSet_ProductionRootsSharingApplicationDefaultCredentials()
    {
        var endpoints = Endpoints();

        Assert.Equal(
            [new Uri("https://pubsub.googleapis.com/"), new Uri("https://firestore.googleapis.com/"), new Uri("https://tpu.googleapis.com/")],
            new[] { endpoints.PubSub, endpoints.Firestore, endpoints.Tpu }.Select(e => e.BaseUri));
        Assert.All(new[] { endpoints.PubSub, endpoints.Firestore, endpoints.Tpu }, e =>
        {
            Assert.False(e.IsLocal);
            Assert.Same(_applicationDefault, e.Tokens);
        });
    }

    [Fact]
    public void Tpu_NoTokenSourceGiven_ApplicationDefaultCredentials()
    {
        Assert.IsType<ApplicationDefaultTokenSource>(new GoogleEndpoints(_ => null).Tpu.Tokens);
    }

    [Fact]
    public void PubSub_OneServiceLocal_OthersStayInProduction()
    {
        var endpoints = Endpoints(("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085"));

        Assert.True(endpoints.PubSub.IsLocal);
        Assert.Equal(GoogleEndpoints.FirestoreProductionRoot, endpoints.Firestore.BaseUri);
        Assert.Same(_applicationDefault, endpoints.Tpu.Tokens);
    }

    [Theory]
    [InlineData("http://127.0.0.1:8085", "http://127.0.0.1:8085/")]
    [InlineData(" 127.0.0.1:8085 ", "http://127.0.0.1:8085/")]
    [InlineData("[::1]:8085", "http://[::1]:8085/")]
    public void PubSub_HostVariants_NormalizedToTheRoot(string value, string expected)
    {
        Assert.Equal(new Uri(expected), Endpoints(("PUBSUB_EMULATOR_HOST", value)).PubSub.BaseUri);
    }

    [Fact]
    public void PubSub_BlankValue_TreatedAsUnset()
    {
        Assert.Equal(GoogleEndpoints.PubSubProductionRoot, Endpoints(("PUBSUB_EMULATOR_HOST", "  ")).PubSub.BaseUri);
    }

    [Theory]
    [InlineData("PUBSUB_EMULATOR_HOST", "localhost")]
    [InlineData("PUBSUB_EMULATOR_HOST", "https://127.0.0.1:8085")]
    [InlineData("FIRESTORE_EMULATOR_HOST", "127.0.0.1:port")]
    [InlineData("SPOTJAX_TPU_API", "127.0.0.1:9400")]
    [InlineData("SPOTJAX_TPU_API", "ftp://127.0.0.1/")]
    public void Endpoint_MalformedValue_ThrowsNamingTheVariable(string variable, string value)
    {
        var endpoints = Endpoints((variable, value));

        var error = Assert.Throws<InvalidOperationException>(() => new[] { endpoints.PubSub, endpoints.Firestore, endpoints.Tpu });

        Assert.Contains(variable, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateTransport_EmulatorEndpoints_SendTheirOwnCredentials()
    {
        await using var server = StubApiServer.Script(StubResponse.Ok());
        var host = server.BaseUri.Authority;
        var endpoints = Endpoints(("PUBSUB_EMULATOR_HOST", host), ("FIRESTORE_EMULATOR_HOST", host));
        using var http = new HttpClient();

        foreach (var endpoint in new[] { endpoints.PubSub, endpoints.Firestore })
        {
            await endpoint.CreateTransport(http).SendAsync(HttpMethod.Get, new Uri(endpoint.BaseUri, "v1/x"), null, idempotent: true, CancellationToken.None);
        }

        Assert.Equal([null, "Bearer owner"], server.Requests.Select(r => r.Authorization));
    }

    private GoogleEndpoints Endpoints(params (string Name, string Value)[] variables)
    {
        var environment = variables.ToDictionary(v => v.Name, v => v.Value, StringComparer.Ordinal);
        return new GoogleEndpoints(name => environment.GetValueOrDefault(name), _applicationDefault);
    }
}
