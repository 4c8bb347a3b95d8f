using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SpotJax.Core;
using SpotJax.Core.Ports;
using SpotJax.Functions.Status;

namespace SpotJax.Functions.Local;

/// <summary>
/// The loopback HTTP face of a long-running local control plane: the status page (as the
/// <c>status</c> function serves it on Cloud Run), Pub/Sub's REST <c>topics.publish</c> for
/// <c>spotjax-jobs</c> (so the command line submits and cancels with the same Pub/Sub client it
/// uses on Google Cloud), and calls for <c>spotjax local down</c> and <c>spotjax local preempt</c>. Binds 127.0.0.1 only;
/// everything but the status page needs the plane's bearer token.
/// </summary>
public sealed class LocalServer : IAsyncDisposable
{
    private readonly WebApplication app;

    private LocalServer(WebApplication app, Uri baseUri)
    {
        this.app = app;
        BaseUri = baseUri;
    }

    /// <summary>The address the server listens on, such as <c>http://127.0.0.1:8765/</c>.</summary>
    public Uri BaseUri { get; }

    /// <param name="plane">The plane whose bus, store and bucket are served.</param>
    /// <param name="port">The loopback port; 0 picks a free one.</param>
    /// <param name="token">The bearer token that publishing, preempting and shutting down require.</param>
    /// <param name="shutdown">Called when an authorised caller asks the plane to stop.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static async Task<LocalServer> StartAsync(LocalControlPlane plane, int port, string token, Action shutdown, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plane);
        ArgumentException.ThrowIfNullOrEmpty(token);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        var expected = Encoding.UTF8.GetBytes("Bearer " + token);

        app.MapGet("/healthz", () => Results.Ok(new { status = "ok", function = "local" }));
        StatusEndpoints.Map(app, new StatusPage(plane.Store, plane.Objects, TimeProvider.System, plane.ControlPlane.Deployment));
        app.MapPost("/v1/projects/{project}/topics/{topic}:publish", async (string project, string topic, HttpContext http, CancellationToken ct) =>
        {
            if (!Authorised(http, expected))
            {
                return Error(StatusCodes.Status401Unauthorized, "UNAUTHENTICATED", "the local plane's token (in plane.json) is required");
            }

            if (topic != plane.ControlPlane.Topics.Jobs)
            {
                return Error(StatusCodes.Status404NotFound, "NOT_FOUND", $"Resource not found (resource={topic}); local mode takes messages on {plane.ControlPlane.Topics.Jobs} only");
            }

            var messages = await ReadMessagesAsync(http);
            if (messages is null)
            {
                return Error(StatusCodes.Status400BadRequest, "INVALID_ARGUMENT", "expected {\"messages\": [{\"data\": BASE64, \"attributes\": {...}}]}");
            }

            var ids = new List<string>();
            foreach (var message in messages)
            {
                ids.Add(await plane.Bus.PublishAsync(topic, message, ct));
            }

            return Results.Json(new { messageIds = ids });
        });
        app.MapPost("/local/shutdown", (HttpContext http) =>
        {
            if (!Authorised(http, expected))
            {
                return Error(StatusCodes.Status401Unauthorized, "UNAUTHENTICATED", "the local plane's token (in plane.json) is required");
            }

            shutdown();
            return Results.Accepted();
        });
        app.MapPost("/local/preempt/{jobId}", async (string jobId, HttpContext http, CancellationToken ct) =>
        {
            if (!Authorised(http, expected))
            {
                return Error(StatusCodes.Status401Unauthorized, "UNAUTHENTICATED", "the local plane's token (in plane.json) is required");
            }

            try
            {
                // ?slice=N: that slice's node only, for a multislice job.
                var slice = http.Request.Query["slice"].ToString();
                int? index = slice.Length == 0 ? null
                    : int.TryParse(slice, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var s) ? s
                    : throw new ArgumentException($"slice '{slice}' is not a slice number");
                await plane.PreemptAsync(jobId, ct, index);
                return Results.Accepted();
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException)
            {
                return Error(StatusCodes.Status409Conflict, "FAILED_PRECONDITION", e.Message);
            }
        });

        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new LocalServer(app, new Uri(address.EndsWith('/') ? address : address + "/"));
    }

    private static bool Authorised(HttpContext http, byte[] expected) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(http.Request.Headers.Authorization.ToString()), expected);

    private static IResult Error(int status, string code, string message) =>
        Results.Json(new { error = new { code = status, message, status = code } }, statusCode: status);

    /// <summary>The messages of a Pub/Sub publish request; null when the body is not one.</summary>
    private static async Task<List<OutgoingMessage>?> ReadMessagesAsync(HttpContext http)
    {
        try
        {
            using var json = await JsonDocument.ParseAsync(http.Request.Body, cancellationToken: http.RequestAborted);
            if (json.RootElement.ValueKind != JsonValueKind.Object ||
                !json.RootElement.TryGetProperty("messages", out var list) || list.ValueKind != JsonValueKind.Array)
            {
                return null;
            }

            var messages = new List<OutgoingMessage>();
            foreach (var item in list.EnumerateArray())
            {
                var data = item.TryGetProperty("data", out var d) && d.ValueKind == JsonValueKind.String ? Convert.FromBase64String(d.GetString()!) : [];
                var attributes = new Dictionary<string, string>();
                if (item.TryGetProperty("attributes", out var a) && a.ValueKind == JsonValueKind.Object)
                {
                    foreach (var attribute in a.EnumerateObject())
                    {
                        attributes[attribute.Name] = attribute.Value.GetString() ?? "";
                    }
                }

                messages.Add(new OutgoingMessage(data, attributes));
            }

            return messages;
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
