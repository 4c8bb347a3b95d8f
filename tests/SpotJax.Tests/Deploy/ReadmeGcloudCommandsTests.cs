using SpotJax.Contracts;

namespace SpotJax.Tests.Deploy;

/// <summary>
/// The deploy documentation as a reader meets it: every gcloud command of the README's deploy
/// section and of infra/README.md, with fake values, through the real gcloud's parser and checks
/// (never reaching Google), and both Cloud Build files through <c>gcloud builds submit</c>'s local parse.
/// </summary>
public sealed class ReadmeGcloudCommandsTests
{
    [Fact]
    public async Task ReadmeDeploySection_GcloudCommandsWithFakeValues_PassGcloudsChecksAndSubmitBothBuildFiles()
    {
        var calls = await GcloudAcceptsEveryCommandAsync("README.md");

        var configs = calls.Where(c => c.Arguments is ["builds", "submit", ..])
            .SelectMany(c => c.Arguments.Where(a => a.StartsWith("--config=", StringComparison.Ordinal)))
            .Select(a => a["--config=".Length..])
            .ToHashSet();
        Assert.Equal(new HashSet<string> { "cloudbuild.yaml", "infra/destroy.cloudbuild.yaml" }, configs);
    }

    [Fact]
    public async Task InfraReadme_GcloudCommandsWithFakeValues_PassGcloudsChecks()
    {
        var calls = await GcloudAcceptsEveryCommandAsync("infra/README.md");

        Assert.Contains(calls, c => c.Arguments is ["secrets", "versions", "add", ..] && c.ExitCode != ReadmeCommands.Repeat);
    }

    [Theory]
    [InlineData("cloudbuild.yaml")]
    [InlineData("infra/destroy.cloudbuild.yaml")]
    public async Task BuildFile_ThroughGcloudBuildsSubmit_ParsesAndAnUnknownFieldInItDoesNot(string file)
    {
        var original = await File.ReadAllTextAsync(Path.Combine(Repository.Root, file));
        var broken = Path.Combine(Directory.CreateTempSubdirectory("spotjax-build-").FullName, "broken.yaml");
        await File.WriteAllTextAsync(broken, original + "\nstepz: []\n");

        var good = await SubmitAsync(Path.Combine(Repository.Root, file));
        var bad = await SubmitAsync(broken);

        Assert.True(good.ExitCode == 1 && good.Stderr.Contains(GcloudSandbox.NoAccount, StringComparison.Ordinal), $"{file}: {good}");
        Assert.True(bad.ExitCode == 1 && bad.Stderr.Contains("as build config", StringComparison.Ordinal) && bad.Stderr.Contains("stepz", StringComparison.Ordinal), $"the broken copy of {file}: {bad}");
        Directory.Delete(Path.GetDirectoryName(broken)!, recursive: true);
    }

    [Fact]
    public async Task ReadmeCommands_MisspeltFlagOrMissingArgument_AreReported()
    {
        var markdown = """
            Two mistakes:

                gcloud storage buckets create gs://$BUCKET --locaton=$REGION
                gcloud iam service-accounts create

            """;

        var (shell, calls) = await ReadmeCommands.RunAsync(markdown);

        Assert.Equal(0, shell.ExitCode);
        Assert.Collection(
            calls,
            call => Assert.Contains("unrecognized arguments", Problem(call), StringComparison.Ordinal),
            call => Assert.Contains("NAME", Problem(call), StringComparison.Ordinal));
    }

    /// <summary>Runs a document's commands; every gcloud call must have passed gcloud's checks. Returns the gcloud calls.</summary>
    private static async Task<List<ReadmeCommands.Call>> GcloudAcceptsEveryCommandAsync(string document)
    {
        var markdown = ReadmeCommands.Part(document);

        var (shell, calls) = await ReadmeCommands.RunAsync(markdown);

        Assert.True(shell.ExitCode == 0, $"the commands of {document} failed in bash: {shell}\n{ReadmeCommands.Script(markdown)}");
        var gcloud = calls.Where(c => c.Tool == "gcloud").ToList();
        Assert.NotEmpty(gcloud);
        Assert.All(gcloud, call => Assert.True(Problem(call) is null, $"{document}: {Problem(call)}"));
        return gcloud;
    }

    /// <summary>Null when gcloud accepted the command: it succeeded, or stopped at its first API call for want of an account.</summary>
    private static string? Problem(ReadmeCommands.Call call) =>
        call.ExitCode is 0 or ReadmeCommands.Repeat || call.Stderr.Contains(GcloudSandbox.NoAccount, StringComparison.Ordinal)
            // `gcloud auth login` (and `auth application-default login`) parsed its arguments and sends the user to the browser.
            || (call.Arguments is ["auth", .., "login"] && call.Stderr.Contains("complete the sign-in prompts", StringComparison.Ordinal))
            ? null
            : call.ToString();

    private static async Task<Tool.Result> SubmitAsync(string config)
    {
        var root = Directory.CreateTempSubdirectory("spotjax-submit-").FullName;
        try
        {
            return await Tool.RunAsync(
                "gcloud",
                ["builds", "submit", $"--config={config}", "--no-source", $"--service-account=projects/{GcloudSandbox.Project}/serviceAccounts/spotjax-deployer@{GcloudSandbox.Project}.iam.gserviceaccount.com", "--substitutions=_REGION=us-central1,_BUCKET=b,_TF_STATE_BUCKET=s,_SSH_PUBLIC_KEY=ssh-ed25519 AAAA,_SWEEP_ZONES=us-central2-b us-west4-a"],
                Repository.Root,
                GcloudSandbox.Environment(Path.Combine(root, "gcloud")));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
