using SpotJax.Cli;
using SpotJax.Contracts;
using SpotJax.Google.Http;
using SpotJax.Google.OsLogin;
using SpotJax.TpuSimulation;
namespace SpotJax.Tests.Cli;

/// <summary><c>spotjax setup</c> on a machine with nothing configured, against local mode, and the SSH login mode it reports.</summary>
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

    [Theory]
    [InlineData(true, null, "ok    SSH login: OS Login (organisation policy constraints/compute.requireOsLogin is enforced): launch imports its key")]
    [InlineData(false, "TRUE", "ok    SSH login: OS Login (project metadata enable-oslogin=TRUE; constraints/compute.requireOsLogin not enforced): launch imports its key")]
    [InlineData(false, null, "ok    SSH login: metadata keys (project metadata enable-oslogin unset; constraints/compute.requireOsLogin not enforced): provisioning puts")]
    public async Task SshLogin_ProjectOnTheStandIn_SaysTheModeAndWhy(bool enforced, string? enableOsLogin, string line)
    {
        await using var simulator = await TpuSimulator.StartAsync(new TpuSimulatorOptions { NodesRoot = Path.Combine(spotjax.Home, "nodes") });
        simulator.AddOsLoginAccount("someone@example.com", "someone", 1001, "ya29.person");
        simulator.RequireOsLogin("my-project", enforced);
        if (enableOsLogin is not null)
        {
            simulator.SetProjectMetadata("my-project", "enable-oslogin", enableOsLogin);
        }

        using var http = new HttpClient();
        var transport = new GoogleApiTransport(http, new FixedTokenSource("ya29.person"));
        var check = await SetupChecks.SshLoginAsync(new SshLoginDetector(transport, "my-project", simulator.BaseUri, simulator.BaseUri), CancellationToken.None);

        Assert.True(check.Passed);
        Assert.StartsWith(line, $"ok    {check.Name}: {check.Line}", StringComparison.Ordinal);
    }

    [Fact]
    public async Task SshLogin_MetadataUnreadable_IsANoteThatSaysWhatToCheck()
    {
        await using var simulator = await TpuSimulator.StartAsync(new TpuSimulatorOptions { NodesRoot = Path.Combine(spotjax.Home, "nodes") });
        using var http = new HttpClient();
        var transport = new GoogleApiTransport(http, FixedTokenSource.None);

        var check = await SetupChecks.SshLoginAsync(new SshLoginDetector(transport, "my-project", simulator.BaseUri, simulator.BaseUri), CancellationToken.None);

        Assert.False(check.Required);
        Assert.StartsWith("cannot tell whether the project uses OS Login (UNAUTHENTICATED (401)", check.Line, StringComparison.Ordinal);
        Assert.Contains("set ssh_login in infra/terraform.tfvars", check.Line, StringComparison.Ordinal);
    }
}
