using SpotJax.Contracts;
namespace SpotJax.Tests.Cli;

/// <summary><c>spotjax setup</c> on a machine with nothing configured, and against local mode.</summary>
public sealed class SetupCommandTests : IDisposable
{
    private readonly SpotJaxProgram spotjax = new();

    public void Dispose() => spotjax.Dispose();

    [Fact]
    public async Task Setup_NoGcloudNoCredentialsNoProject_OneActionableLinePerMissingPrerequisiteAndExitsSix()
    {
        var emptyPath = Directory.CreateDirectory(Path.Combine(spotjax.Home, "bin")).FullName;
        spotjax.Environment["PATH"] = emptyPath;
        spotjax.Environment["CLOUDSDK_CONFIG"] = Directory.CreateDirectory(Path.Combine(spotjax.Home, "gcloud")).FullName;

        var (exit, output, _) = await spotjax.RunAsync("setup");

        Assert.Equal(6, exit);
        var failures = output.Split('\n').Where(l => l.StartsWith("FAIL", StringComparison.Ordinal)).Select(l => l[4..].Trim()).ToList();
        Assert.Equal(
            [
                "gcloud not found: install the Google Cloud CLI: https://cloud.google.com/sdk/docs/install",
                "no Application Default Credentials: run `gcloud auth application-default login`",
                "no project: run `gcloud config set project PROJECT` or pass --project",
            ],
            failures.Take(3));
        Assert.StartsWith("no control bucket: pass --bucket BUCKET", failures[3], StringComparison.Ordinal);
        Assert.Equal(4, failures.Count);
    }

    [Fact]
    public async Task Setup_ProjectFromGcloudConfigButNoCredentials_NamesOnlyWhatIsMissing()
    {
        var gcloud = Directory.CreateDirectory(Path.Combine(spotjax.Home, "gcloud", "configurations")).Parent!.FullName;
        await File.WriteAllTextAsync(Path.Combine(gcloud, "active_config"), "work\n");
        await File.WriteAllTextAsync(Path.Combine(gcloud, "configurations", "config_work"), "[core]\naccount = a@example.com\nproject = my-project\n");
        spotjax.Environment["CLOUDSDK_CONFIG"] = gcloud;

        var (exit, output, _) = await spotjax.RunAsync("setup", "--bucket", "my-bucket");

        Assert.Equal(6, exit);
        Assert.Contains("ok    project: my-project", output, StringComparison.Ordinal);
        Assert.Contains("ok    bucket: gs://my-bucket", output, StringComparison.Ordinal);
        Assert.Single(output.Split('\n'), l => l.StartsWith("FAIL", StringComparison.Ordinal) && l.Contains("gcloud auth application-default login", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Setup_Local_PassesAndFixRemembersLocalMode()
    {
        var (exit, output, _) = await spotjax.RunAsync("setup", "--local", "--fix");

        Assert.True(exit == 0, output);
        Assert.Contains("ok    python3: Python 3.", output, StringComparison.Ordinal);
        Assert.Contains("Everything SpotJax needs is in place.", output, StringComparison.Ordinal);
        var status = await spotjax.RunAsync("status");
        Assert.Equal(5, status.ExitCode);
        Assert.Contains($"no local control plane in {spotjax.LocalStateDir}", status.Error, StringComparison.Ordinal);
    }
}
