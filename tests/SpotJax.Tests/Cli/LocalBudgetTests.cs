using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using SpotJax.Contracts;
using SpotJax.Core.Cost;

namespace SpotJax.Tests.Cli;

/// <summary>
/// The README's "Cost and budget" commands against a local plane, each as its own spotjax process: a submit
/// with a one-cent budget warns, the plane's sweep cancels the job for its budget, and status shows the cost.
/// </summary>
public sealed partial class LocalBudgetTests : IDisposable
{
    private const string Section = "## Cost and budget";
    private static readonly string[] SubmitWithBudget =
        ["submit", "examples/quickstart/train.py", "--local", "--tpu", "v4-8", "--zone", "us-central2-b", "--max-cost-usd", "0.01", "--", "--steps", "6000", "--step-seconds", "0.1"];

    private readonly SpotJaxProgram spotjax = new();

    public void Dispose() => spotjax.Dispose();

    [Fact]
    public void Readme_CostSection_ShowsTheCommandsThisTestRuns()
    {
        var readme = File.ReadAllText(Path.Combine(Repository.Root, "README.md")).ReplaceLineEndings("\n");
        var start = readme.IndexOf($"\n{Section}\n", StringComparison.Ordinal);
        var section = readme[start..readme.IndexOf("\n## ", start + 1, StringComparison.Ordinal)];
        const string Prefix = "    spotjax ";
        var shown = section.Split('\n').Where(line => line.StartsWith(Prefix, StringComparison.Ordinal)).Select(line => line[Prefix.Length..].TrimEnd());

        string[][] tested = [SubmitWithBudget, ["status", "JOB", "--local"], ["status", "JOB", "--local", "--json"]];
        Assert.Equal(tested.Select(command => string.Join(' ', command)), shown);
        Assert.Contains($"as of {TpuPrices.Default.AsOf:yyyy-MM-dd}", section, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SubmitWithOneCentBudget_WarnsAndTheSweepCancelsItForItsBudget()
    {
        var up = await spotjax.RunAsync("local", "up", "--detach", "--provision-delay", "0.2s");
        Assert.True(up.ExitCode == 0, up.Output + up.Error);

        var submit = await spotjax.RunAsync(SubmitWithBudget);
        Assert.True(submit.ExitCode == 0, submit.Output + submit.Error);
        Assert.Contains("warning: maxCostUsd $0.01 pays for 0 min of a Spot v4-8 in us-central2", submit.Error, StringComparison.Ordinal);
        var jobId = SubmittedPattern().Match(submit.Output).Groups[1].Value;

        // The job runs about ten seconds of its hour-long script before its cost reaches one cent.
        var cancelled = await spotjax.EventuallyAsync(r => r.ExitCode == 0 && r.Output.Contains("\"state\":\"CANCELLED\"", StringComparison.Ordinal), "status", jobId, "--local", "--json");
        using (var report = JsonDocument.Parse(cancelled.Output))
        {
            var job = report.RootElement.GetProperty("job");
            var cost = report.RootElement.GetProperty("cost");
            Assert.Equal("budget", job.GetProperty("cancelReason").GetString());
            Assert.True(cost.GetProperty("usd").GetDecimal() >= 0.01m, cost.ToString());
            Assert.Equal(0.01m, cost.GetProperty("maxCostUsd").GetDecimal());
            var attempt = Assert.Single(cost.GetProperty("attempts").EnumerateArray());
            Assert.Equal((4, true, false), (attempt.GetProperty("chips").GetInt32(), attempt.GetProperty("spot").GetBoolean(), attempt.GetProperty("running").GetBoolean()));
            Assert.Equal(TpuPrices.Default.Source, cost.GetProperty("priceSource").GetString());
            Assert.Equal(TpuPrices.Default.AsOf.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), cost.GetProperty("pricesAsOf").GetString());
        }

        var text = await spotjax.RunAsync("status", jobId, "--local");
        Assert.Matches(@"cost\s+\$0\.0\d over 1 attempt \(Spot, list prices as of \d{4}-\d\d-\d\d\) of maxCostUsd \$0\.01", text.Output);
        Assert.Matches(@"cancelled by\s+budget", text.Output);
        var queue = await spotjax.RunAsync("status", "--local");
        Assert.Contains("COST", queue.Output, StringComparison.Ordinal);

        Assert.Equal(0, (await spotjax.RunAsync("local", "down")).ExitCode);
        Assert.Empty(SpotJaxProgram.ProcessesMentioning(spotjax.LocalStateDir));
    }

    [GeneratedRegex(@"Submitted job ([a-z0-9-]+) ")]
    private static partial Regex SubmittedPattern();
}
