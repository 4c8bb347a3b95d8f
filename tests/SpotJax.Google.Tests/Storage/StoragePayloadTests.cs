using System.Net;
using System.Text.Json;
using Google.Apis.Json;
using SpotJax.Google.Storage;
using SpotJax.Google.Tests.Emulators;
using StorageObject = Google.Apis.Storage.v1.Data.Object;

namespace SpotJax.Google.Tests.Storage;

/// <summary>
/// Real Cloud Storage JSON API payloads (Storage/Fixtures): the local server must answer in their shape
/// for its tests to mean anything, and the store must read and classify them.
/// </summary>
[Collection(StorageServerCollection.Name)]
public sealed class StoragePayloadTests(StorageServer server)
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public void ObjectResource_RealFixture_Int64FieldsAreStringsTheLibraryReads()
    {
        var text = Fixture("object-resource.json");
        using var json = JsonDocument.Parse(text);

        var item = NewtonsoftJsonSerializer.Instance.Deserialize<StorageObject>(text);

        foreach (var field in new[] { "generation", "metageneration", "size" })
        {
            Assert.Equal(JsonValueKind.String, json.RootElement.GetProperty(field).ValueKind);
        }

        Assert.Equal(1732800432118934L, item.Generation);
        Assert.Equal(48213UL, item.Size);
        Assert.Equal(new DateTimeOffset(2024, 11, 28, 13, 27, 12, 123, TimeSpan.Zero), item.UpdatedDateTimeOffset);
        Assert.Equal("llama-tiny-4f2a/logs/attempt-1/worker-0.log", item.Name);
    }

    [Fact]
    public async Task ObjectResource_LocalServer_HasEveryFieldOfTheRealOneWithTheSameJsonKind()
    {
        using var store = await server.CreateStoreAsync();
        await store.PutAsync("job-a/logs/attempt-1/worker-0.log", "step 1\n"u8.ToArray(), None);
        using var real = JsonDocument.Parse(Fixture("object-resource.json"));

        using var local = JsonDocument.Parse(await server.Http.GetStringAsync(server.ObjectUri(store.Bucket, "job-a/logs/attempt-1/worker-0.log")));

        foreach (var field in real.RootElement.EnumerateObject())
        {
            Assert.True(local.RootElement.TryGetProperty(field.Name, out var value), $"the local server's object lacks '{field.Name}'");
            Assert.Equal((field.Name, field.Value.ValueKind), (field.Name, value.ValueKind));
        }

        Assert.Equal("storage#object", local.RootElement.GetProperty("kind").GetString());
        Assert.Equal("7", local.RootElement.GetProperty("size").GetString());
    }

    [Fact]
    public async Task ErrorEnvelope_LocalServerNotFound_HasTheShapeOfTheRealOne()
    {
        using var store = await server.CreateStoreAsync();
        using var real = JsonDocument.Parse(Fixture("error-not-found-404.json"));

        using var response = await server.Http.GetAsync(server.ObjectUri(store.Bucket, "job-a/markers/attempt-1/worker-0/exited"));
        using var local = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        foreach (var envelope in new[] { real.RootElement, local.RootElement })
        {
            var error = envelope.GetProperty("error");
            Assert.Equal(404, error.GetProperty("code").GetInt32());
            Assert.StartsWith("No such object: ", error.GetProperty("message").GetString(), StringComparison.Ordinal);
            var item = Assert.Single(error.GetProperty("errors").EnumerateArray());
            Assert.Equal(("global", "notFound"), (item.GetProperty("domain").GetString(), item.GetProperty("reason").GetString()));
        }
    }

    [Theory]
    [InlineData("error-not-found-404.json", HttpStatusCode.NotFound, "NOT_FOUND", false, "notFound")]
    [InlineData("error-forbidden-403.json", HttpStatusCode.Forbidden, "PERMISSION_DENIED", false, "forbidden")]
    [InlineData("error-rate-limit-429.json", HttpStatusCode.TooManyRequests, "RESOURCE_EXHAUSTED", true, "rateLimitExceeded")]
    public void FromResponse_RealErrorBody_ClassifiedByHttpCodeWithMessageAndReason(
        string fixture, HttpStatusCode httpStatus, string status, bool transient, string reason)
    {
        var body = Fixture(fixture);
        using var json = JsonDocument.Parse(body);
        var message = json.RootElement.GetProperty("error").GetProperty("message").GetString()!;

        var error = StorageErrors.FromResponse(httpStatus, body, "download gs://spotjax-control/x");

        Assert.Equal((httpStatus, status, transient), (error.HttpStatus, error.Status, error.IsTransient));
        Assert.Contains($"download gs://spotjax-control/x: {message} [{reason}]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromResponse_ProxyHtmlPage_StatusFromHttpCodeAndTheText()
    {
        var error = StorageErrors.FromResponse(HttpStatusCode.BadGateway, "<html><body>502 Bad Gateway</body></html>", "list gs://b/*");

        Assert.Equal("UNAVAILABLE", error.Status);
        Assert.True(error.IsTransient);
        Assert.Contains("502 Bad Gateway", error.Message, StringComparison.Ordinal);
    }

    private static string Fixture(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Storage", "Fixtures", name));
}
