using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using SpotJax.Core.Ports;
using SpotJax.Core.Tpu;
using SpotJax.Local.Workers;
using SpotJax.TpuSimulation;

namespace SpotJax.Local.Tests.Workers;

/// <summary>
/// <c>secretEnv</c> on a worker: the agent reads each reference from Secret Manager (the TPU simulator's
/// stand-in, reached with the node's metadata token) and hands the values to the script only.
/// </summary>
public sealed class SecretEnvAgentTests : IAsyncLifetime
{
    private const string Project = "spotjax-test";
    private const string ApiKey = "sk-live-7f3a9c2e-the-api-key";
    private const string HfToken = "hf_token-é-second-secret";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    private readonly WorkerSandbox _sandbox = new();
    private TpuSimulator _simulator = null!;

    public async Task InitializeAsync()
    {
        _simulator = await TpuSimulator.StartAsync(new TpuSimulatorOptions { NodesRoot = _sandbox.Nodes });
        await CreateNodeAsync();
        File.WriteAllText(Path.Combine(_sandbox.Code, "spotjax_setup.sh"), "echo \"SETUP SEES API_KEY=${API_KEY-unset} HF_TOKEN=${HF_TOKEN-unset}\"\n");
        File.WriteAllText(Path.Combine(_sandbox.Code, "secret.py"), """
            import hashlib, os
            open("started", "w").close()
            for name in ("API_KEY", "HF_TOKEN"):
                print(name, hashlib.sha256(os.environ[name].encode("utf-8")).hexdigest(), flush=True)
            print("PLAIN", os.environ["PLAIN"], flush=True)
            """);
    }

    public async Task DisposeAsync()
    {
        await _simulator.DisposeAsync();
        _sandbox.Dispose();
    }

    [Fact]
    public async Task SecretEnv_ReadWithTheNodeToken_ReachesTheScriptOnly()
    {
        _simulator.AddSecret(Project, "spotjax-job-api", "an older version");
        _simulator.AddSecret(Project, "spotjax-job-api", ApiKey);
        _simulator.AddSecret(Project, "spotjax-job-hf", HfToken);
        _simulator.AddSecret(Project, "spotjax-job-hf", "a newer version");
        var plan = Plan(new()
        {
            ["API_KEY"] = $"projects/{Project}/secrets/spotjax-job-api/versions/latest",
            ["HF_TOKEN"] = $"projects/{Project}/secrets/spotjax-job-hf/versions/1",
        });

        var result = Assert.Single(await Runner(_simulator.BaseUri.AbsoluteUri.TrimEnd('/')).LaunchAsync(plan, CancellationToken.None));
        var exited = await _sandbox.WaitForMarkerAsync(1, 0, "exited");

        Assert.True(result.Succeeded, result.StderrTail);
        Assert.Equal(0, exited.GetProperty("exitCode").GetInt32());
        var log = await File.ReadAllTextAsync(_sandbox.LogPath(1, 0));
        Assert.Contains($"API_KEY {Sha256(ApiKey)}", log, StringComparison.Ordinal);
        Assert.Contains($"HF_TOKEN {Sha256(HfToken)}", log, StringComparison.Ordinal);
        Assert.Contains("PLAIN visible", log, StringComparison.Ordinal);
        var prepareLog = await File.ReadAllTextAsync(_sandbox.PrepareLogPath(1, 0));
        Assert.Contains("SETUP SEES API_KEY=unset HF_TOKEN=unset", prepareLog, StringComparison.Ordinal);
        var config = await File.ReadAllTextAsync(Path.Combine(_sandbox.Home(0), "attempt-1.json"));
        Assert.Contains($"projects/{Project}/secrets/spotjax-job-api/versions/latest", config, StringComparison.Ordinal);
        AssertNowhereOnDisk(ApiKey, HfToken);
    }

    [Fact]
    public async Task SecretEnv_TransientErrors_AreRetriedAndAPayloadWithoutChecksumIsTaken()
    {
        await using var google = FakeGoogleServer.Start();
        const string name = "projects/my-project/secrets/spotjax-job-api/versions/3";
        google.SecretAnswers[name] = new([
            (503, """{"error": {"code": 503, "status": "UNAVAILABLE"}}"""),
            (429, """{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}"""),
            (200, Version(name, ApiKey, crc32c: null)),
        ]);
        google.SecretAnswers["projects/my-project/secrets/spotjax-job-hf/versions/1"] = new([(200, Version("projects/my-project/secrets/spotjax-job-hf/versions/1", HfToken, crc32c: null))]);
        var plan = Plan(new() { ["API_KEY"] = name, ["HF_TOKEN"] = "projects/my-project/secrets/spotjax-job-hf/versions/1" });

        var result = Assert.Single(await Runner(google.Root, google.MetadataUrl).LaunchAsync(plan, CancellationToken.None));
        var exited = await _sandbox.WaitForMarkerAsync(1, 0, "exited");

        Assert.True(result.Succeeded, result.StderrTail);
        Assert.Equal(0, exited.GetProperty("exitCode").GetInt32());
        Assert.Contains($"API_KEY {Sha256(ApiKey)}", await File.ReadAllTextAsync(_sandbox.LogPath(1, 0)), StringComparison.Ordinal);
        Assert.Empty(google.SecretAnswers[name]);
        AssertNowhereOnDisk(ApiKey, HfToken);
    }

    private const string Reference = "projects/my-project/secrets/spotjax-job-api/versions/latest";

    public static TheoryData<string, int, string> Refusals => new()
    {
        { "crc32c mismatch", 200, $"secrets: the payload of {Reference} does not match its dataCrc32c" },
        { "no permission", 403, $"secrets: cannot read {Reference}: HTTP 403: the node's service account may not access it (roles/secretmanager.secretAccessor)" },
        { "no such version", 404, $"secrets: cannot read {Reference}: HTTP 404: no such secret or version" },
        { "token refused", 401, $"secrets: cannot read {Reference}: HTTP 401: the node's token was refused" },
    };

    /// <summary>Every way a secret cannot be had ends the attempt before the script starts, naming the reference, never the value.</summary>
    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task SecretFailure_RefusedOrDamaged_EndsTheAttemptBeforeTheScriptStarts(string what, int status, string expected)
    {
        await using var google = FakeGoogleServer.Start();
        var body = status == 200
            ? Version(Reference, ApiKey, crc32c: "12345")
            : $$$"""{"error": {"code": {{{status}}}, "message": "{{{what}}}"}}""";
        google.SecretAnswers[Reference] = new([(status, body)]);

        var failed = await LaunchAndWaitForPrepareFailureAsync(Runner(google.Root, google.MetadataUrl), Plan(new() { ["API_KEY"] = Reference }));

        AssertEndedBeforeTheScript(failed, expected);
    }

    [Fact]
    public async Task SecretFailure_UnknownSecretInTheStandIn_EndsTheAttemptBeforeTheScriptStarts()
    {
        _simulator.AddSecret(Project, "spotjax-job-api", ApiKey);
        var name = $"projects/{Project}/secrets/spotjax-job-missing/versions/latest";

        var failed = await LaunchAndWaitForPrepareFailureAsync(
            Runner(_simulator.BaseUri.AbsoluteUri.TrimEnd('/')),
            Plan(new() { ["API_KEY"] = $"projects/{Project}/secrets/spotjax-job-api/versions/1", ["MISSING"] = name }));

        AssertEndedBeforeTheScript(failed, $"secrets: cannot read {name}: HTTP 404: no such secret or version");
    }

    private async Task<JsonElement> LaunchAndWaitForExitAsync(LocalWorkerRunner runner, LaunchPlan plan)
    {
        var result = Assert.Single(await runner.LaunchAsync(plan, CancellationToken.None));
        Assert.True(result.Succeeded, result.StderrTail);
        return await _sandbox.WaitForMarkerAsync(1, 0, "exited");
    }

    /// <summary>Secrets are read as the last step of preparation: a failure is a prepare-failed marker, never an exited one.</summary>
    private async Task<JsonElement> LaunchAndWaitForPrepareFailureAsync(LocalWorkerRunner runner, LaunchPlan plan)
    {
        var result = Assert.Single(await runner.LaunchAsync(plan, CancellationToken.None));
        Assert.True(result.Succeeded, result.StderrTail);
        return await _sandbox.WaitForMarkerAsync(1, 0, "prepare-failed");
    }

    private void AssertEndedBeforeTheScript(JsonElement failed, string message)
    {
        Assert.Equal("secrets", failed.GetProperty("step").GetString());
        Assert.StartsWith(message, $"secrets: {failed.GetProperty("message").GetString()}", StringComparison.Ordinal);
        Assert.Contains($"secrets failed: {message["secrets: ".Length..]}", failed.GetProperty("outputTail").GetString()!, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_sandbox.Home(0), "code", "started")), "the script started");
        Assert.False(File.Exists(_sandbox.MarkerPath(1, 0, "exited")), "an exited marker after a failed preparation");
        AssertNowhereOnDisk(ApiKey);
    }

    private LaunchPlan Plan(Dictionary<string, string> secrets) =>
        _sandbox.Plan(workers: 1, script: "secret.py", env: new Dictionary<string, string> { ["PLAIN"] = "visible" }) with { SecretEnvironment = secrets };

    private LocalWorkerRunner Runner(string secretManager, string? metadataUrl = null) =>
        new(_sandbox.Options(
            metadataUrl ?? _simulator.MetadataUrl(WorkerSandbox.Zone, WorkerSandbox.NodeId).ToString(),
            new Dictionary<string, string> { ["SPOTJAX_SECRETMANAGER_BASE"] = secretManager }));

    private async Task CreateNodeAsync()
    {
        var body = new QueuedResource
        {
            Tpu = new QueuedResourceTpu
            {
                NodeSpec =
                [
                    new NodeSpec
                    {
                        Parent = $"projects/{Project}/locations/{WorkerSandbox.Zone}",
                        NodeId = WorkerSandbox.NodeId,
                        Node = new Node { AcceleratorType = "v4-8", RuntimeVersion = "tpu-ubuntu2204-base", SchedulingConfig = new SchedulingConfig { Spot = true } },
                    },
                ],
            },
            Spot = new Spot(),
        };
        using var http = new HttpClient();
        using var response = await http.PostAsJsonAsync(
            new Uri(_simulator.BaseUri, $"v2/projects/{Project}/locations/{WorkerSandbox.Zone}/queuedResources?queuedResourceId={WorkerSandbox.NodeId}"), body, Json);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>No file the worker left (config, logs, markers, prepare.log, agent log) holds a value, plain or in base64.</summary>
    private void AssertNowhereOnDisk(params string[] values)
    {
        foreach (var file in Directory.EnumerateFiles(_sandbox.Root, "*", SearchOption.AllDirectories))
        {
            var bytes = File.ReadAllBytes(file);
            foreach (var value in values)
            {
                var plain = Encoding.UTF8.GetBytes(value);
                Assert.True(bytes.AsSpan().IndexOf(plain) < 0, $"{file} holds a secret value");
                Assert.True(bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes(Convert.ToBase64String(plain))) < 0, $"{file} holds a secret value in base64");
            }
        }
    }

    private static string Version(string name, string value, string? crc32c)
    {
        var payload = new Dictionary<string, string> { ["data"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(value)) };
        if (crc32c is not null)
        {
            payload["dataCrc32c"] = crc32c;
        }

        return JsonSerializer.Serialize(new { name, payload });
    }

    private static string Sha256(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)));
}
