using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using SpotJax.Functions.Host.Events;
using SpotJax.Functions.Status;

namespace SpotJax.Functions.Host;

/// <summary>
/// The HTTP container of one function, following the Functions Framework contract: CloudEvents and
/// pushes are POSTed to <c>/</c> on <c>$PORT</c>; <c>/healthz</c> answers for probes.
/// </summary>
public static class FunctionHost
{
    /// <param name="options">The target, port and push authentication.</param>
    /// <param name="functions">The functions over this deployment's adapters.</param>
    /// <param name="logOutput">Where the JSON log lines go (stdout in a container).</param>
    /// <param name="configure">A last say over the web host (tests swap in the test server).</param>
    public static WebApplication Build(
        FunctionHostOptions options,
        SpotJaxFunctions functions,
        TextWriter? logOutput = null,
        TimeProvider? time = null,
        Action<WebApplicationBuilder>? configure = null)
    {
        var clock = time ?? TimeProvider.System;
        var app = Create(options, configure);
        var log = new StructuredLog(logOutput ?? Console.Out, options.Target, clock);
        var invoker = new FunctionInvoker(options.Target, functions, log);
        var auth = options.Auth is null ? null : new PushAuthenticator(options.Auth);

        app.MapPost("/", async (HttpContext http) =>
        {
            if (auth is not null && await auth.CheckAsync(http.Request) is { } denied)
            {
                log.Warning($"refused: {denied.Reason}");
                return Results.StatusCode(denied.Status);
            }

            var (incoming, error) = await EventDecoder.DecodeAsync(http.Request, clock.GetUtcNow(), http.RequestAborted);
            if (incoming is null)
            {
                log.Warning($"not an event: {error}");
                return Results.Text(error, statusCode: StatusCodes.Status400BadRequest);
            }

            var status = await invoker.InvokeAsync(incoming, FunctionInvoker.Trace(http.Request, options.Project), http.RequestAborted);
            return Results.StatusCode(status);
        });
        log.Info($"listening on {(options.LoopbackOnly ? "127.0.0.1" : "*")}:{options.Port}");
        return app;
    }

    /// <summary>
    /// The container of the <c>status</c> function, an HTTP function rather than an event one: the
    /// status page on <c>GET /</c> and <c>GET /jobs/{id}</c>. Push verification does not apply (its
    /// callers are people): the Cloud Run service admits only principals with <c>run.invoker</c>.
    /// </summary>
    /// <param name="options">The port and interface; the target is <see cref="FunctionNames.Status"/>.</param>
    /// <param name="page">The page over this deployment's job store and bucket.</param>
    /// <param name="logOutput">Where the JSON log lines go (stdout in a container).</param>
    /// <param name="configure">A last say over the web host (tests swap in the test server).</param>
    public static WebApplication BuildStatus(
        FunctionHostOptions options,
        StatusPage page,
        TextWriter? logOutput = null,
        TimeProvider? time = null,
        Action<WebApplicationBuilder>? configure = null)
    {
        var app = Create(options, configure);
        var log = new StructuredLog(logOutput ?? Console.Out, options.Target, time ?? TimeProvider.System);
        StatusEndpoints.Map(app, page);
        log.Info($"status page on {(options.LoopbackOnly ? "127.0.0.1" : "*")}:{options.Port}");
        return app;
    }

    /// <summary>The web host every function shares: Kestrel on the port, and <c>/healthz</c> for probes.</summary>
    private static WebApplication Create(FunctionHostOptions options, Action<WebApplicationBuilder>? configure)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            if (options.LoopbackOnly)
            {
                kestrel.Listen(IPAddress.Loopback, options.Port);
            }
            else
            {
                kestrel.ListenAnyIP(options.Port);
            }
        });
        configure?.Invoke(builder);

        var app = builder.Build();
        app.MapGet("/healthz", () => Results.Ok(new { status = "ok", function = options.Target }));
        return app;
    }
}
