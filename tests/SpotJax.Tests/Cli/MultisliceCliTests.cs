using System.Text.Json;
using SpotJax.Contracts;
using SpotJax.Core.Jobs;

namespace SpotJax.Tests.Cli;

/// <summary>
/// Multislice from the command line. The README's multislice section: its job is the example manifest, and its
/// commands, run as the README shows them, run that job on a local plane, preempt slice 1 and show the job as
/// <c>2 x v4-32</c> with 8 workers; and <c>--slices</c> is checked as the job field is.
/// </summary>
public sealed class MultisliceCliTests : IDisposable
{
    private const string Manifest = "examples/quickstart/multislice-job.yaml";
    private const string Prefix = "    dotnet run --project cli/SpotJax.Cli -- ";

    private static readonly string[] Up = ["local", "up", "--detach"];
    private static readonly string[] Submit = ["submit", "--file", Manifest, "--local"];
    private static readonly string[] Down = ["local", "down"];

    private readonly SpotJaxProgram spotjax = new();

    public void Dispose() => spotjax.Dispose();

    private static string[] Preempt(string jobId) => ["local", "preempt", jobId, "--slice", "1"];

    private static string[] Status(string jobId) => ["status", jobId, "--local"];

    private static string Section()
    {
        var readme = File.ReadAllText(Path.Combine(Repository.Root, "README.md"));
        var start = readme.IndexOf("### Multislice", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no multislice section");
        return readme[start..readme.IndexOf("\n## ", start, StringComparison.Ordinal)];
    }

    [Fact]
    public void Readme_MultisliceJob_IsTheExampleManifestAndAsksForTwoSlicesOfV4_32()
    {
        var section = Section();
        var start = section.IndexOf("```yaml\n", StringComparison.Ordinal) + "```yaml\n".Length;
        var shown = section[start..section.IndexOf("```", start, StringComparison.Ordinal)];
        var manifest = File.ReadAllText(Path.Combine(Repository.Root, Manifest));

        Assert.Equal(string.Concat(manifest.Split('\n').Where(l => !l.StartsWith('#')).Select(l => l + "\n")).TrimEnd(), shown.TrimEnd());
        var spec = JobDocument.Parse(manifest, new JobDocumentOptions { AllowLocalCode = true });
        Assert.Equal((2, "2 x v4-32"), (spec.Slices, TpuShape.Of(spec)));
    }

    [Fact]
    public void Readme_MultisliceCommands_AreTheOnesTheTestBelowRuns()
    {
        var shown = Section().Split('\n').Where(line => line.StartsWith(Prefix, StringComparison.Ordinal)).Select(line => line[Prefix.Length..].TrimEnd());

        string[][] tested = [Up, Submit, Preempt("JOB"), Status("JOB"), Down];
        Assert.Equal(tested.Select(command => string.Join(' ', command)), shown);
    }

    [Fact]
    public async Task ReadmeCommands_PreemptSlice1_OneRecoveryThenSucceededShownAsTwoSlicesOfEightWorkers()
    {
        Assert.Equal(0, (await spotjax.RunAsync([.. Up, "--provision-delay", "0.2s"])).ExitCode);
        var submitted = await spotjax.RunAsync([.. Submit, "--json"]);
        Assert.True(submitted.ExitCode == 0, submitted.Output + submitted.Error);
        string jobId;
        using (var json = JsonDocument.Parse(submitted.Output))
        {
            jobId = json.RootElement.GetProperty("jobId").GetString()!;
        }

        // The first attempt waits at its last step for the preemption: RUNNING with a checkpoint holds until then.
        await spotjax.EventuallyAsync(r => r.ExitCode == 0 && Job(r.Output) is { State: "RUNNING", Attempt: 1, Checkpoint: true }, [.. Status(jobId), "--json"]);
        var noSuchSlice = await spotjax.RunAsync("local", "preempt", jobId, "--slice", "2");
        var preempt = await spotjax.RunAsync(Preempt(jobId));
        var done = await spotjax.EventuallyAsync(r => r.ExitCode == 0 && Job(r.Output).State == "SUCCEEDED", [.. Status(jobId), "--json"]);
        var status = await spotjax.RunAsync(Status(jobId));

        Assert.Equal(2, noSuchSlice.ExitCode);
        Assert.Contains("has 2 slice(s), numbered from 0: --slice 2 is not one of them", noSuchSlice.Error, StringComparison.Ordinal);
        Assert.True(preempt.ExitCode == 0, preempt.Output + preempt.Error);
        Assert.Equal(2, Job(done.Output).Attempt);
        using (var report = JsonDocument.Parse(done.Output))
        {
            Assert.Equal(1, report.RootElement.GetProperty("job").GetProperty("preemptionsSpent").GetInt32());
        }

        Assert.Equal(0, status.ExitCode);
        Assert.Contains("2 x v4-32 in us-central2-b", status.Output, StringComparison.Ordinal);
        Assert.Contains("2 (8 worker(s))", status.Output, StringComparison.Ordinal);
        Assert.Equal(0, (await spotjax.RunAsync(Down)).ExitCode);
    }

    [Fact]
    public async Task Submit_SlicesOption_IsValidatedAsTheJobsSlicesField()
    {
        string[] script = ["submit", "examples/quickstart/train.py", "--local", "--tpu", "v4-32", "--zone", "us-central2-b"];

        var bad = await spotjax.RunAsync([.. script, "--slices", "65"]);
        var good = await spotjax.RunAsync([.. script, "--slices", "2"]);

        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("slices: must be an integer from 1 to 64, got 65", bad.Error, StringComparison.Ordinal);
        // Valid: it gets as far as looking for the local plane, which is not running.
        Assert.Equal(5, good.ExitCode);
        Assert.Contains("spotjax local up --detach", good.Error, StringComparison.Ordinal);
    }

    private static (string? State, int Attempt, bool Checkpoint) Job(string statusJson)
    {
        using var report = JsonDocument.Parse(statusJson);
        var job = report.RootElement.GetProperty("job");
        return (job.GetProperty("state").GetString(), job.GetProperty("attempt").GetInt32(),
            job.TryGetProperty("lastCheckpointStep", out var step) && step.ValueKind == JsonValueKind.Number);
    }
}
