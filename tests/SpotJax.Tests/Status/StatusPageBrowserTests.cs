using Microsoft.Playwright;
using SpotJax.Contracts;
using SpotJax.Core.Jobs;
using SpotJax.Functions.Local;
using Xunit.Abstractions;

namespace SpotJax.Tests.Status;

/// <summary>
/// The status page as a person sees it: Debian's headless Chromium, driven by Playwright, opens the
/// page of a local deployment whose job was preempted once, follows the link to the job and checks
/// the timeline and the chart. The screenshot is kept under TestResults/ at the repository root.
/// </summary>
public sealed class StatusPageBrowserTests(ITestOutputHelper output)
{
    private const string Chromium = "/usr/bin/chromium";

    // As the machine notes say: the closed network refuses Chromium's background connections, so they are switched off.
    private static readonly string[] ChromiumFlags =
    [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync",
    ];

    public static string ScreenshotPath => Path.Combine(Repository.Root, "TestResults", "status-page.png");

    [Fact]
    public async Task StatusPage_LocalJobPreemptedOnce_ShowsTwoAttemptsAndACheckpointChart()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: apt-get install -y chromium (.ci/run installs it)");
        var root = Directory.CreateTempSubdirectory("spotjax-browser-").FullName;
        string jobId;
        await using (var plane = await LocalControlPlane.StartAsync(
            new LocalControlPlaneOptions
            {
                Root = root,
                ProvisionDelay = TimeSpan.FromMilliseconds(200),
                PreemptionGrace = TimeSpan.FromSeconds(3),
                SweepInterval = TimeSpan.FromMilliseconds(500),
                Lifecycle = new() { BackoffBase = TimeSpan.FromMilliseconds(200), BackoffMax = TimeSpan.FromSeconds(1), StuckAfter = TimeSpan.FromSeconds(10) },
            },
            CancellationToken.None))
        await using (var server = await LocalServer.StartAsync(plane, 0, Guid.NewGuid().ToString("N"), () => { }, CancellationToken.None))
        {
            jobId = await plane.SubmitAsync(
                new JobSpec
                {
                    Name = "browser",
                    Tpu = new TpuSpec { Type = "v4-8", Zones = ["us-central2-b"] },
                    Code = Path.Combine(Repository.Root, "examples", "quickstart"),
                    Script = "train.py",
                    // The first attempt waits at its last step for the preemption below: it cannot end before it.
                    Args = ["--steps", "30", "--step-seconds", "0.1", "--wait-for-preemption"],
                },
                "browser-1",
                CancellationToken.None);
            await Eventually.TrueAsync(async () => await plane.Store.GetAsync(jobId, CancellationToken.None) is { State: JobState.Running, LastCheckpointStep: >= 10 }, TimeSpan.FromSeconds(60));
            await plane.PreemptAsync(jobId, CancellationToken.None);
            await Eventually.TrueAsync(async () => (await plane.Store.GetAsync(jobId, CancellationToken.None))!.State.IsTerminal(), TimeSpan.FromSeconds(60));

            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = Chromium, Headless = true, Args = ChromiumFlags });
            var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1000, Height = 900 } });
            await page.GotoAsync(server.BaseUri.AbsoluteUri);
            await page.GetByRole(AriaRole.Link, new PageGetByRoleOptions { Name = jobId }).ClickAsync();
            await page.WaitForURLAsync($"**/jobs/{jobId}");

            Directory.CreateDirectory(Path.GetDirectoryName(ScreenshotPath)!);
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = ScreenshotPath, FullPage = true });
            output.WriteLine($"screenshot: {ScreenshotPath}");

            Assert.Equal("SUCCEEDED", await page.Locator("h1 .state").InnerTextAsync());
            Assert.Equal(2, await page.Locator("svg.timeline g.attempt").CountAsync());
            Assert.Equal(1, await page.Locator("svg.timeline g.preemption").CountAsync());
            Assert.True(await page.Locator("svg.checkpoints circle.point").CountAsync() >= 4);
            Assert.True(await page.Locator("svg.timeline g.attempt[data-attempt='2'] rect.running").IsVisibleAsync());
        }

        Directory.Delete(root, recursive: true);
    }
}
