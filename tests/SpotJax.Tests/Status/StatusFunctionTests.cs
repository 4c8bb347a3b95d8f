using System.Collections;
using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Time.Testing;
using SpotJax.Core.Cost;
using SpotJax.Functions;
using SpotJax.Functions.Host;
using SpotJax.Functions.Status;

namespace SpotJax.Tests.Status;

/// <summary>The <c>status</c> HTTP function behind the Cloud Run host, over a SQLite store and a bucket folder.</summary>
public sealed class StatusFunctionTests : IAsyncLifetime
{
    private PreemptedJob fixture = null!;
    private WebApplication app = null!;
    private HttpClient client = null!;

    public async Task InitializeAsync()
    {
        fixture = await PreemptedJob.CreateAsync();
        var page = new StatusPage(fixture.Store, fixture.Objects, new FakeTimeProvider(PreemptedJob.Start.AddHours(1)));
        app = FunctionHost.BuildStatus(new FunctionHostOptions { Target = FunctionNames.Status }, page, new StringWriter(), configure: builder => builder.WebHost.UseTestServer());
        await app.StartAsync();
        client = app.GetTestClient();
    }

    public async Task DisposeAsync()
    {
        client.Dispose();
        await app.DisposeAsync();
        await fixture.DisposeAsync();
    }

    [Fact]
    public async Task Index_OneJob_ListsItWithStateAndBudgets()
    {
        using var response = await client.GetAsync("/");
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains($"<a href=\"jobs/{fixture.Job.Id}\">", html, StringComparison.Ordinal);
        Assert.Contains("SUCCEEDED", html, StringComparison.Ordinal);
        Assert.Contains("<td>1 / 100</td>", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task JobPage_PreemptedOnce_TwoAttemptBarsOnePreemptionAndTenCheckpointPoints()
    {
        using var response = await client.GetAsync($"/jobs/{fixture.Job.Id}");
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, Count(html, "<g class=\"attempt\""));
        Assert.Equal(1, Count(html, "<g class=\"preemption\">"));
        Assert.Equal(10, Count(html, "<circle class=\"point\""));
        Assert.Contains("data-step=\"100\"", html, StringComparison.Ordinal);
        Assert.Contains("preempted: queued resource SUSPENDING", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task JobPage_TwoAttempts_ShowsTheirCostBesideTheTimeline()
    {
        // Each attempt was ACTIVE for 70 s (PreemptedJob): 140 s x 4 chips of a v4-8 at the shipped Spot price.
        var price = TpuPrices.Default.Find("v4-8", "us-central2-b")!.SpotUsdPerChipHour;
        var usd = (140m * 4 * price / 3600m).ToString("0.00", CultureInfo.InvariantCulture);
        var asOf = TpuPrices.Default.AsOf.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

        var page = await client.GetStringAsync($"/jobs/{fixture.Job.Id}");
        var index = await client.GetStringAsync("/");

        var timeline = page.IndexOf("<h2>Attempts</h2>", StringComparison.Ordinal);
        var line = page.IndexOf($"<p class=\"cost\">cost ${usd} over 2 attempts (Spot, list prices as of {asOf})", StringComparison.Ordinal);
        Assert.True(timeline >= 0 && line > timeline, page);
        Assert.Contains($"<td>${usd}</td>", index, StringComparison.Ordinal);
    }

    [Fact]
    public async Task JobPage_Always_LoadsNothingFromElsewhere()
    {
        using var response = await client.GetAsync($"/jobs/{fixture.Job.Id}");
        var html = await response.Content.ReadAsStringAsync();

        Assert.StartsWith("default-src 'none'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task JobPage_UnknownJob_Is404()
    {
        using var response = await client.GetAsync("/jobs/no-such-job-0123456789");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Post_StatusFunction_IsNotAnEventEndpoint()
    {
        using var response = await client.PostAsync("/", new StringContent("{}"));

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
    }

    [Fact]
    public async Task Deployment_StatusWithoutSshSettings_BuildsThePage()
    {
        var environment = new Hashtable
        {
            [Deployment.ProjectVariable] = "p",
            [Deployment.BucketVariable] = PreemptedJob.Bucket,
            [Deployment.StateDbVariable] = fixture.Store.DatabasePath,
            [Deployment.BucketDirVariable] = fixture.Objects.Root,
        };

        await using var deployment = await Deployment.CreateAsync(environment, TimeProvider.System, CancellationToken.None, stepsWanted: false);

        Assert.Contains(fixture.Job.Id, await deployment.Status.IndexAsync(CancellationToken.None), StringComparison.Ordinal);
    }

    private static int Count(string text, string part) => text.Split(part).Length - 1;
}
