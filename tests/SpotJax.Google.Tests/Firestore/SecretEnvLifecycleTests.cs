using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SpotJax.Contracts;
using SpotJax.Core;
using SpotJax.Core.Jobs;
using SpotJax.Functions.Local;
using SpotJax.Functions.Status;
using SpotJax.Google.Tests.Emulators;

namespace SpotJax.Google.Tests.Firestore;

/// <summary>
/// A job with <c>secretEnv</c> run by every function of local mode over the Firestore emulator: the
/// value reaches the script through the agent and the simulator's Secret Manager stand-in, and is
/// nowhere in what the control plane keeps or shows.
/// </summary>
[Collection(FirestoreEmulatorCollection.Name)]
public sealed class SecretEnvLifecycleTests(FirestoreEmulator emulator) : IAsyncLifetime
{
    private const string SecretValue = "wandb-0f4c2a9e71d3-never-stored";
    private const string Reference = "projects/spotjax-local/secrets/spotjax-job-wandb/versions/latest";
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private readonly string _project = FirestoreEmulator.NewProject();
    private readonly string _root = Directory.CreateTempSubdirectory("spotjax-secrets-e2e-").FullName;
    private readonly SpotJaxProgram _cli = new();

    [Fact]
    public async Task SecretEnv_ReachesTheScript_AndIsNowhereInFirestoreHistoryStatusPageOrCli()
    {
        var code = Directory.CreateDirectory(Path.Combine(_root, "code")).FullName;
        await File.WriteAllTextAsync(Path.Combine(code, "train.py"), """
            import hashlib, os
            print("secret sha256", hashlib.sha256(os.environ["WANDB_API_KEY"].encode()).hexdigest(), flush=True)
            """);
        var secrets = Path.Combine(_root, "secrets.env");
        await File.WriteAllTextAsync(secrets, $"# local stand-in secrets\nspotjax-job-wandb={SecretValue}\n");
        var store = emulator.CreateStore(_project);
        var state = Path.Combine(_root, "state");
        await using var plane = await LocalControlPlane.StartAsync(
            new LocalControlPlaneOptions
            {
                Root = state,
                Store = store,
                SecretsFile = secrets,
                ProvisionDelay = TimeSpan.FromMilliseconds(200),
                SweepInterval = TimeSpan.FromMilliseconds(500),
                Lifecycle = new() { BackoffBase = TimeSpan.FromMilliseconds(200), BackoffMax = TimeSpan.FromSeconds(1), StuckAfter = TimeSpan.FromSeconds(10) },
            },
            None);
        var spec = new JobSpec
        {
            Name = "secrets-e2e",
            Tpu = new TpuSpec { Type = "v4-8", Zones = ["us-central2-b"], RuntimeVersion = "tpu-ubuntu2204-base" },
            Code = code,
            Script = "train.py",
            Env = new Dictionary<string, string> { ["WANDB_MODE"] = "online" },
            SecretEnv = new Dictionary<string, string> { ["WANDB_API_KEY"] = Reference },
        };

        var jobId = await plane.SubmitAsync(spec, "secrets-e2e-1", None);
        var job = await WaitForTerminalAsync(store, jobId);

        // The script got the value: its hash is in the script's log.
        Assert.True(job.State == JobState.Succeeded, job.LastError);
        Assert.Contains($"secret sha256 {Sha256(SecretValue)}", await File.ReadAllTextAsync(plane.LogPath(job, 1, 0)), StringComparison.Ordinal);

        // Firestore, read raw: every document of the project, the job's history included.
        var documents = await AllDocumentsAsync();
        Assert.Contains(documents, d => d.Contains(Reference, StringComparison.Ordinal));
        Assert.True(documents.Count >= 2, string.Join("\n", documents));
        AssertAbsent("Firestore", string.Join("\n", documents));

        var history = await store.GetHistoryAsync(jobId, None);
        Assert.Equal(JobState.Succeeded, history[^1].To);
        AssertAbsent("history", JsonSerializer.Serialize(history, SpotJaxJson.Options));

        var page = new StatusPage(store, plane.Objects, TimeProvider.System);
        var jobPage = await page.JobAsync(jobId, None);
        Assert.Contains($"WANDB_API_KEY from {Reference}", jobPage, StringComparison.Ordinal);
        AssertAbsent("status page", jobPage + await page.IndexAsync(None));

        var bucket = Path.Combine(state, "bucket");
        var detail = await CliAsync(bucket, "status", jobId);
        var json = await CliAsync(bucket, "status", jobId, "--json");
        var table = await CliAsync(bucket, "status");
        Assert.Contains(Reference, detail, StringComparison.Ordinal);
        Assert.Contains(Reference, json, StringComparison.Ordinal);
        Assert.Contains(jobId, table, StringComparison.Ordinal);
        AssertAbsent("CLI status output", detail + json + table);

        // Nor in any file the plane or the worker left: configs, markers, logs, prepare.log, agent logs.
        foreach (var file in Directory.EnumerateFiles(state, "*", SearchOption.AllDirectories))
        {
            AssertAbsent(file, Encoding.UTF8.GetString(await File.ReadAllBytesAsync(file)));
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _cli.Dispose();
        await emulator.WipeAsync(_project);
        Directory.Delete(_root, recursive: true);
    }

    private static void AssertAbsent(string where, string text)
    {
        Assert.False(text.Contains(SecretValue, StringComparison.Ordinal), $"the secret value is in {where}");
        Assert.False(text.Contains(Convert.ToBase64String(Encoding.UTF8.GetBytes(SecretValue)), StringComparison.Ordinal), $"the secret value is in {where} in base64");
    }

    /// <summary>The program as a user runs it against this deployment: Firestore emulated, the bucket a folder.</summary>
    private async Task<string> CliAsync(string bucketDir, params string[] args)
    {
        _cli.Environment.Clear();
        _cli.Environment["FIRESTORE_EMULATOR_HOST"] = emulator.BaseUri.Authority;
        // Never reached by status; set so the program wants no Google login.
        _cli.Environment["PUBSUB_EMULATOR_HOST"] = "127.0.0.1:9";
        _cli.Environment[global::SpotJax.Cli.Target.BucketDirVariable] = bucketDir;
        _cli.Environment["GOOGLE_CLOUD_PROJECT"] = _project;
        _cli.Environment["SPOTJAX_BUCKET"] = "spotjax-local";
        var (exitCode, output, error) = await _cli.RunAsync(args);
        Assert.True(exitCode == 0, $"spotjax {string.Join(' ', args)} exited {exitCode}: {output}{error}");
        return output + error;
    }

    /// <summary>Every document of the project, as the emulator's REST API returns it, walking every collection.</summary>
    private async Task<List<string>> AllDocumentsAsync()
    {
        var documents = new List<string>();
        var parents = new Queue<string>([""]);
        while (parents.TryDequeue(out var parent))
        {
            var listIds = new Uri(emulator.BaseUri, $"v1/projects/{_project}/databases/(default)/documents{(parent.Length == 0 ? "" : "/" + parent)}:listCollectionIds");
            var ids = await SendAsync(HttpMethod.Post, listIds, new JsonObject());
            foreach (var id in ids["collectionIds"]?.AsArray().Select(i => (string)i!) ?? [])
            {
                var collection = parent.Length == 0 ? id : $"{parent}/{id}";
                var list = await SendAsync(HttpMethod.Get, new Uri(emulator.DocumentUri(_project, collection) + "?pageSize=1000"), null);
                foreach (var document in list["documents"]?.AsArray() ?? [])
                {
                    documents.Add(document!.ToJsonString());
                    var name = (string)document["name"]!;
                    parents.Enqueue(name[(name.IndexOf("/documents/", StringComparison.Ordinal) + "/documents/".Length)..]);
                }
            }
        }

        return documents;
    }

    private async Task<JsonNode> SendAsync(HttpMethod method, Uri uri, JsonObject? body)
    {
        using var request = new HttpRequestMessage(method, uri) { Content = body is null ? null : JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", global::SpotJax.Google.GoogleEndpoints.FirestoreEmulatorToken);
        using var response = await emulator.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{method} {uri}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text.Length == 0 ? "{}" : text)!;
    }

    private static async Task<Job> WaitForTerminalAsync(Core.Ports.IJobStore store, string jobId)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            if (await store.GetAsync(jobId, None) is { } job && job.State.IsTerminal())
            {
                return job;
            }

            Assert.True(DateTime.UtcNow < deadline, $"job {jobId} did not end within {Timeout}");
            await Task.Delay(100);
        }
    }

    private static string Sha256(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)));
}
