using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using SpotJax.Google.Http;
using SpotJax.Google.Tpu;

namespace SpotJax.Tpu.Tests;

/// <summary>
/// A real HTTP server on the loopback that answers with recorded API payloads chosen per request, and
/// remembers every request: for answers the simulator never gives (real production payloads, a server
/// paging in a loop) and for reading what the client put on the wire.
/// </summary>
internal sealed class FixtureServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();

    private FixtureServer(WebApplication app) => _app = app;

    /// <summary>The server root, <c>http://127.0.0.1:PORT/</c>.</summary>
    public Uri BaseUri { get; private set; } = null!;

    /// <summary>Every request so far, in arrival order.</summary>
    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    public HttpClient Http { get; } = new();

    /// <summary>Starts a server whose answer to each request is <paramref name="answer"/>'s (status, JSON body).</summary>
    public static async Task<FixtureServer> StartAsync(Func<RecordedRequest, (HttpStatusCode Status, string Body)> answer)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        var server = new FixtureServer(builder.Build());
        server._app.Run(async context =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var request = new RecordedRequest(context.Request.Method, $"{context.Request.Path}{context.Request.QueryString}", await reader.ReadToEndAsync());
            server._requests.Enqueue(request);
            var (status, body) = answer(request);
            context.Response.StatusCode = (int)status;
            context.Response.ContentType = "application/json; charset=UTF-8";
            await context.Response.WriteAsync(body);
        });
        await server._app.StartAsync();
        var address = server._app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        server.BaseUri = new Uri(address.TrimEnd('/') + "/");
        return server;
    }

    /// <summary>Starts a server that answers every request with the same fixture.</summary>
    public static Task<FixtureServer> StartAsync(HttpStatusCode status, string body) => StartAsync(_ => (status, body));

    /// <summary>The production client pointed at this server.</summary>
    public TpuRestClient Client(GoogleApiOptions? transport = null, int maxListPages = 1000) =>
        new(new GoogleApiTransport(Http, FixedTokenSource.None, transport), new TpuClientOptions { Project = Payloads.Project, BaseUri = BaseUri, MaxListPages = maxListPages });

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Http.Dispose();
    }
}

/// <summary>One request as the <see cref="FixtureServer"/> received it.</summary>
internal sealed record RecordedRequest(string Method, string PathAndQuery, string Body);
