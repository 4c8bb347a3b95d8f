using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace SpotJax.Chaos;

/// <summary>One HTTP request as the relay received it (body read whole), to be sent on.</summary>
internal sealed record RelayedRequest(string Method, string PathAndQuery, string? ContentType, string? Authorization, byte[] Body);

/// <summary>
/// A small HTTP relay on the loopback: every request is handed to <see cref="Handle"/>, which decides what
/// happens (send it on once or several times, late, or never) and what the caller gets back.
/// </summary>
internal sealed class HttpRelay : IAsyncDisposable
{
    private readonly WebApplication app;

    private HttpRelay(WebApplication app, Uri address)
    {
        this.app = app;
        Address = address;
    }

    /// <summary><c>http://127.0.0.1:PORT/</c>.</summary>
    public Uri Address { get; }

    /// <summary>What <c>PUBSUB_EMULATOR_HOST</c> would hold to reach this relay.</summary>
    public string HostPort => Address.Authority;

    /// <summary>Decides the answer to one request: a status and a body.</summary>
    public required Func<RelayedRequest, CancellationToken, Task<(int Status, byte[] Body)>> Handle { get; set; }

    public static async Task<HttpRelay> StartAsync()
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0);
            kestrel.Limits.MaxRequestBodySize = 64 * 1024 * 1024;
        });
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(2));
        var app = builder.Build();
        HttpRelay? relay = null;
        app.Run(async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body, context.RequestAborted);
            var request = new RelayedRequest(
                context.Request.Method,
                context.Request.Path + context.Request.QueryString,
                context.Request.ContentType,
                context.Request.Headers.Authorization.FirstOrDefault(),
                body.ToArray());
            var (status, answer) = await relay!.Handle(request, context.RequestAborted);
            context.Response.StatusCode = status;
            context.Response.ContentType = "application/json";
            await context.Response.Body.WriteAsync(answer, context.RequestAborted);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        relay = new HttpRelay(app, new Uri(address.TrimEnd('/') + "/")) { Handle = (_, _) => Task.FromResult((503, Array.Empty<byte>())) };
        return relay;
    }

    /// <summary>Sends <paramref name="request"/> to <paramref name="target"/> and returns its answer; 503 when it cannot be reached.</summary>
    public static async Task<(int Status, byte[] Body)> ForwardAsync(HttpClient http, Uri target, RelayedRequest request, CancellationToken ct)
    {
        using var message = new HttpRequestMessage(new HttpMethod(request.Method), new Uri(target, request.PathAndQuery.TrimStart('/')));
        if (request.Body.Length > 0 || request.Method is "POST" or "PUT" or "PATCH")
        {
            message.Content = new ByteArrayContent(request.Body);
            if (request.ContentType is not null)
            {
                message.Content.Headers.TryAddWithoutValidation("Content-Type", request.ContentType);
            }
        }

        if (request.Authorization is not null)
        {
            message.Headers.TryAddWithoutValidation("Authorization", request.Authorization);
        }

        try
        {
            using var response = await http.SendAsync(message, ct);
            return ((int)response.StatusCode, await response.Content.ReadAsByteArrayAsync(ct));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            // The host is down (killed) or did not answer in time: as Pub/Sub sees it, a failed delivery.
            return (503, []);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
