using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using SpotJax.Core.Jobs;

namespace SpotJax.Functions.Status;

/// <summary>The routes of the status page, the same in the Cloud Run host and in local mode.</summary>
public static class StatusEndpoints
{
    // Nothing on the page comes from elsewhere, and the policy makes sure nothing ever will.
    private const string ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    /// <summary>Maps <c>GET /</c> (the jobs table) and <c>GET /jobs/{id}</c> (one job).</summary>
    public static void Map(IEndpointRouteBuilder routes, StatusPage page)
    {
        ArgumentNullException.ThrowIfNull(routes);
        ArgumentNullException.ThrowIfNull(page);
        // The token parameter keeps these lambdas from binding as a RequestDelegate, which would drop the result.
        routes.MapGet("/", async (HttpContext http, CancellationToken ct) => Html(http, await page.IndexAsync(ct)));
        routes.MapGet("/jobs/{id}", async (string id, HttpContext http, CancellationToken ct) =>
            JobId.IsValid(id) && await page.JobAsync(id, ct) is { } html
                ? Html(http, html)
                : Results.Text($"no job {id}\n", "text/plain; charset=utf-8", statusCode: StatusCodes.Status404NotFound));
    }

    private static IResult Html(HttpContext http, string html)
    {
        var headers = http.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.CacheControl = "no-store";
        headers.XContentTypeOptions = "nosniff";
        return Results.Content(html, "text/html; charset=utf-8");
    }
}
