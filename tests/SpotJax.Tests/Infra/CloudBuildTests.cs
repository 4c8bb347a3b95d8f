using System.Diagnostics;
using System.Text.RegularExpressions;
using SpotJax.Contracts;
using YamlDotNet.RepresentationModel;

namespace SpotJax.Tests.Infra;

/// <summary>
/// cloudbuild.yaml (and infra/destroy.cloudbuild.yaml) parsed as YAML: the steps in order, every
/// substitution used is declared, the image is built from functions/Dockerfile and deployed by digest.
/// </summary>
public sealed partial class CloudBuildTests
{
    public static TheoryData<string> BuildFiles => ["cloudbuild.yaml", "infra/destroy.cloudbuild.yaml"];

    /// <summary>Substitutions Cloud Build provides itself.</summary>
    private static readonly HashSet<string> BuiltIn = ["PROJECT_ID", "PROJECT_NUMBER", "BUILD_ID", "LOCATION", "TRIGGER_NAME", "COMMIT_SHA", "SHORT_SHA", "REPO_NAME", "BRANCH_NAME", "TAG_NAME", "REVISION_ID", "SERVICE_ACCOUNT_EMAIL"];

    [Theory]
    [MemberData(nameof(BuildFiles))]
    public void BuildFile_EverySubstitutionUsed_IsDeclaredOrBuiltIn(string file)
    {
        var (root, text) = Load(file);
        var declared = ((YamlMappingNode)root["substitutions"]).Children.Keys.Select(k => ((YamlScalarNode)k).Value!).ToHashSet();
        var used = Substitution().Matches(text).Select(m => m.Groups[1].Value.Length > 0 ? m.Groups[1].Value : m.Groups[2].Value).ToHashSet();

        Assert.All(declared, name => Assert.StartsWith("_", name, StringComparison.Ordinal));
        Assert.All(used, name => Assert.True(declared.Contains(name) || BuiltIn.Contains(name), $"{file} uses ${name}, which is neither declared nor built in"));
        Assert.Subset(declared, new HashSet<string> { "_REGION", "_BUCKET", "_REPOSITORY", "_TF_STATE_BUCKET" });
        Assert.Equal("CLOUD_LOGGING_ONLY", Scalar(root["options"], "logging"));
    }

    [Theory]
    [MemberData(nameof(BuildFiles))]
    public void BuildFile_Steps_HaveUniqueIdsAndWaitOnlyForEarlierSteps(string file)
    {
        var steps = Steps(Load(file).Root);
        var seen = new HashSet<string>();

        Assert.NotEmpty(steps);
        foreach (var step in steps)
        {
            var id = Scalar(step, "id")!;
            Assert.True(seen.Add(id), $"step id {id} repeats");
            Assert.False(string.IsNullOrEmpty(Scalar(step, "name")), $"step {id} has no builder image");
            Assert.False(step.Children.ContainsKey("script") && step.Children.ContainsKey("args"), $"step {id} sets both script and args");
            if (step.Children.TryGetValue("waitFor", out var waitFor))
            {
                Assert.All(((YamlSequenceNode)waitFor).Children.Select(n => ((YamlScalarNode)n).Value!), w => Assert.True(w == "-" || seen.Contains(w), $"step {id} waits for {w}, which is not an earlier step"));
            }
        }
    }

    [Fact]
    public void CloudBuild_Steps_RestoreBuildTestImagePushThenDeployTheDigest()
    {
        var steps = Steps(Load("cloudbuild.yaml").Root);
        var ids = steps.Select(s => Scalar(s, "id")!).ToList();
        string Body(string id) => Content(steps[ids.IndexOf(id)]);

        Assert.Equal(new[] { "restore", "build", "test", "image", "repository", "push", "digest", "deploy" }, ids);
        Assert.Contains("dotnet restore SpotJax.sln", Body("restore"), StringComparison.Ordinal);
        Assert.Contains("dotnet test tests/SpotJax.Tests", Body("test"), StringComparison.Ordinal);
        Assert.Contains("FullyQualifiedName~SpotJax.Tests.Infra", Body("test"), StringComparison.Ordinal);
        Assert.Contains("-f functions/Dockerfile", Body("image"), StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(Repository.Root, "functions", "Dockerfile")));
        Assert.Contains("-target=google_artifact_registry_repository.images", Body("repository"), StringComparison.Ordinal);
        Assert.Contains("push ${_REGION}-docker.pkg.dev/${PROJECT_ID}/${_REPOSITORY}/${_IMAGE_NAME}:${BUILD_ID}", Body("push"), StringComparison.Ordinal);
        Assert.Contains("RepoDigests", Body("digest"), StringComparison.Ordinal);
        Assert.Contains("-var=\"image=$(cat /workspace/image-digest.txt)\"", Body("deploy"), StringComparison.Ordinal);
        Assert.Contains("-backend-config=\"bucket=${_TF_STATE_BUCKET}\"", Body("deploy"), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(BuildFiles))]
    public void BuildFile_TerraformVariables_AreVariablesOfInfra(string file)
    {
        var steps = Steps(Load(file).Root);
        var set = steps
            .Where(s => s.Children.ContainsKey("env"))
            .SelectMany(s => ((YamlSequenceNode)s["env"]).Children.Select(n => ((YamlScalarNode)n).Value!))
            .Where(e => e.StartsWith("TF_VAR_", StringComparison.Ordinal))
            .Select(e => e["TF_VAR_".Length..e.IndexOf('=', StringComparison.Ordinal)])
            .ToHashSet();
        var required = InfraConfig.Instance.Variables.Where(v => !v.Value.Any(e => e.Key == "default")).Select(v => v.Key).ToHashSet();

        Assert.All(set, v => Assert.True(InfraConfig.Instance.Variables.ContainsKey(v), $"{file} sets TF_VAR_{v}, which infra/ does not declare"));
        Assert.All(required.Where(v => v != "image"), v => Assert.Contains(v, set));
    }

    [Fact]
    public void DestroyBuild_TerraformVariables_AreTheDeployStepsWithTheSameSubstitutions()
    {
        var (build, _) = Load("cloudbuild.yaml");
        var (destroy, _) = Load("infra/destroy.cloudbuild.yaml");
        var deployStep = Steps(build).Single(s => Scalar(s, "id") == "deploy");
        var destroyStep = Steps(destroy).Single(s => Scalar(s, "id") == "destroy");
        var deployed = TerraformVariables(deployStep);
        var destroyed = TerraformVariables(destroyStep);

        Assert.Contains("ssh_public_key", deployed);
        Assert.Equal(deployed.Order(StringComparer.Ordinal), destroyed.Order(StringComparer.Ordinal));
        var used = Substitution().Matches(Content(deployStep) + string.Join('\n', Env(deployStep)))
            .Select(m => m.Groups[1].Value.Length > 0 ? m.Groups[1].Value : m.Groups[2].Value)
            .Where(name => name.StartsWith('_'))
            .ToHashSet();
        Assert.All(used, name => Assert.Equal(Scalar(build["substitutions"], name), Scalar(destroy["substitutions"], name)));
        // The sweep zones become the same Terraform list in both.
        Assert.Contains(Content(deployStep).Split('\n').Single(l => l.Contains("TF_VAR_sweep_zones", StringComparison.Ordinal)), Content(destroyStep), StringComparison.Ordinal);
    }

    /// <summary>The Terraform variables a step sets: TF_VAR_ in its env or exported by its script, and -var= on its command line.</summary>
    private static HashSet<string> TerraformVariables(YamlMappingNode step) =>
        Env(step).Concat([Content(step)])
            .SelectMany(text => TerraformVariable().Matches(text))
            .Select(m => m.Groups[1].Value.Length > 0 ? m.Groups[1].Value : m.Groups[2].Value)
            .ToHashSet();

    private static IEnumerable<string> Env(YamlMappingNode step) =>
        step.Children.TryGetValue("env", out var env) ? ((YamlSequenceNode)env).Children.Select(n => ((YamlScalarNode)n).Value!) : [];

    [GeneratedRegex(@"\bTF_VAR_([a-z_][a-z0-9_]*)=|-var=""?([a-z_][a-z0-9_]*)=")]
    private static partial Regex TerraformVariable();

    [Theory]
    [InlineData("", "[]")]
    [InlineData("us-central2-b", "[\"us-central2-b\"]")]
    [InlineData(" us-central2-b   us-west4-a ", "[\"us-central2-b\",\"us-west4-a\"]")]
    public async Task CloudBuild_SweepZonesSubstitution_BecomesTheTerraformList(string substitution, string expected)
    {
        var (root, _) = Load("cloudbuild.yaml");

        var result = await RunUntilTerraformAsync(root, "deploy", "_SWEEP_ZONES", substitution, "$TF_VAR_sweep_zones");

        Assert.Equal("", Scalar(root["substitutions"], "_SWEEP_ZONES"));
        Assert.Equal((0, expected), result);
    }

    [Theory]
    [InlineData("cloudbuild.yaml", "deploy", "", "")]
    [InlineData("cloudbuild.yaml", "deploy", "us-central2=10.20.16.0/20", "{\"us-central2\"=\"10.20.16.0/20\"}")]
    [InlineData("infra/destroy.cloudbuild.yaml", "destroy", " us-central2=10.20.16.0/20  europe-west4=10.20.80.0/20 ", "{\"us-central2\"=\"10.20.16.0/20\",\"europe-west4\"=\"10.20.80.0/20\"}")]
    public async Task CloudBuild_TpuSubnetsSubstitution_BecomesTheTerraformMapOrKeepsTheDefault(string file, string step, string substitution, string expected)
    {
        var (root, _) = Load(file);

        var result = await RunUntilTerraformAsync(root, step, "_TPU_SUBNETS", substitution, "${TF_VAR_tpu_subnets-}");

        Assert.Equal("", Scalar(root["substitutions"], "_TPU_SUBNETS"));
        Assert.Equal("false", Scalar(root["substitutions"], "_TPU_EXTERNAL_IPS"));
        Assert.Equal((0, expected), result);
    }

    [Theory]
    [InlineData("cloudbuild.yaml", "deploy", "", "unset")]
    [InlineData("cloudbuild.yaml", "deploy", "10.9.0.0/24", "10.9.0.0/24")]
    [InlineData("infra/destroy.cloudbuild.yaml", "destroy", "10.9.0.0/24", "10.9.0.0/24")]
    public async Task CloudBuild_LaunchEgressSubstitution_SetsTheTerraformVariableOrKeepsTheDefault(string file, string step, string substitution, string expected)
    {
        var (root, _) = Load(file);

        var result = await RunUntilTerraformAsync(root, step, "_LAUNCH_EGRESS_CIDR", substitution, "${TF_VAR_launch_egress_cidr-unset}");

        Assert.Equal("", Scalar(root["substitutions"], "_LAUNCH_EGRESS_CIDR"));
        Assert.Equal((0, expected), result);
    }

    /// <summary>
    /// Runs a step's script up to its first <c>terraform</c> command with one substitution set (as automapSubstitutions
    /// sets it), then prints <paramref name="printed"/>; returns the exit code and what was printed.
    /// </summary>
    private static async Task<(int ExitCode, string Output)> RunUntilTerraformAsync(YamlMappingNode root, string step, string substitution, string value, string printed)
    {
        var script = Content(Steps(root).Single(s => Scalar(s, "id") == step));
        var beforeTerraform = script.Split('\n').TakeWhile(line => !line.StartsWith("terraform ", StringComparison.Ordinal));
        var start = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(string.Join('\n', beforeTerraform) + $"\nprintf %s \"{printed}\"");
        start.Environment[substitution] = value;

        using var shell = Process.Start(start)!;
        var output = await shell.StandardOutput.ReadToEndAsync();
        await shell.WaitForExitAsync();
        return (shell.ExitCode, output);
    }

    private static (YamlMappingNode Root, string Text) Load(string file)
    {
        var text = File.ReadAllText(Path.Combine(Repository.Root, file));
        var yaml = new YamlStream();
        yaml.Load(new StringReader(text));
        return ((YamlMappingNode)yaml.Documents.Single().RootNode, text);
    }

    private static List<YamlMappingNode> Steps(YamlMappingNode root) =>
        ((YamlSequenceNode)root["steps"]).Children.Cast<YamlMappingNode>().ToList();

    private static string? Scalar(YamlNode node, string key) =>
        ((YamlMappingNode)node).Children.TryGetValue(key, out var value) ? ((YamlScalarNode)value).Value : null;

    /// <summary>What a step runs: its script, or its arguments joined by spaces.</summary>
    private static string Content(YamlMappingNode step) =>
        step.Children.TryGetValue("script", out var script)
            ? ((YamlScalarNode)script).Value!
            : string.Join(' ', ((YamlSequenceNode)step["args"]).Children.Select(n => ((YamlScalarNode)n).Value));

    /// <summary><c>${NAME}</c> or <c>$NAME</c>, but not <c>$$</c> (an escaped dollar) nor a shell <c>$(...)</c>.</summary>
    [GeneratedRegex(@"(?<!\$)\$(?:\{([A-Z_][A-Z0-9_]*)\}|([A-Z_][A-Z0-9_]*))")]
    private static partial Regex Substitution();
}
