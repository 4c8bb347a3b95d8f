using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SpotJax.Contracts;
using SpotJax.Core;
using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;
using SpotJax.Functions;
using SpotJax.Functions.Local;
using SpotJax.Google.PubSub;
using SpotJax.Google.Tests.PubSub;
using SpotJax.Google.Tests.Emulators;
using SpotJax.Google.Tests.Http;
using SpotJax.Local.Storage;
using SpotJax.TpuSimulation;

namespace SpotJax.Google.Tests.EndToEnd;

/// <summary>
/// The whole lifecycle on the real message path: every function in its own process (the
/// <c>spotjax-functions</c> host, as on Cloud Run), Pub/Sub emulator push subscriptions to them,
/// state in the Firestore emulator, the TPU simulator, local worker processes, and the bucket's
/// finalize events posted to <c>bucket-events</c> as Eventarc CloudEvents. A job published with
/// the real gcloud survives a preemption and succeeds, also when every message is delivered twice.
/// </summary>
[Collection(PubSubEmulatorCollection.Name)]
public sealed class PushLifecycleTests(PubSubEmulator pubsub, FirestoreEmulator firestore) : IClassFixture<FirestoreEmulator>, IAsyncLifetime
{
    private const string Bucket = "spotjax-e2e";
    private const string Zone = "us-central2-b";
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    private static readonly Dictionary<string, string> FunctionOfTopic = new()
    {
        [Topics.Jobs] = FunctionNames.Submit,
        [Topics.Provision] = FunctionNames.Provision,
        [Topics.Launch] = FunctionNames.Launch,
        [Topics.Recover] = FunctionNames.Recover,
        [Topics.Finish] = FunctionNames.Finish,
    };

    private readonly string project = $"push-{Guid.NewGuid():N}"[..20];
    private readonly string root = Directory.CreateTempSubdirectory("spotjax-push-").FullName;
    private readonly Dictionary<string, (Process Process, int Port, StringBuilder Output)> hosts = [];
    private readonly HttpClient http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private readonly CancellationTokenSource stopping = new();
    private TpuSimulator simulator = null!;
    private FolderObjectStore bucket = null!;
    private Task sweeps = Task.CompletedTask;

    public async Task InitializeAsync()
    {
        simulator = await TpuSimulator.StartAsync(new TpuSimulatorOptions
        {
            NodesRoot = Path.Combine(root, "nodes"),
            ProvisionDelay = TimeSpan.FromMilliseconds(300),
            PreemptionGrace = TimeSpan.FromSeconds(3),
        });
        bucket = new FolderObjectStore(Path.Combine(root, "bucket"), Bucket);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task GcloudPublishedJob_ThroughPushedFunctions_SurvivesAPreemptionAndSucceeds(int deliveriesPerMessage)
    {
        foreach (var function in FunctionNames.All)
        {
            StartHost(function);
        }

        await Task.WhenAll(hosts.Values.Select(h => WaitHealthyAsync(h.Port)));
        await SubscribeAsync(deliveriesPerMessage);
        bucket.OnFinalize((e, ct) => PostStorageEventAsync(e, ct));
        bucket.Start();
        sweeps = SweepEverySecondAsync(stopping.Token);
        var bundle = (await CodeBundle.PackAsync(Path.Combine(Repository.Root, "examples", "quickstart"), None)).Archive;
        await bucket.PutAsync("code/quickstart.tar.gz", bundle, None);
        var code = $"gs://{Bucket}/code/quickstart.tar.gz";
        // --wait-for-preemption: the first attempt cannot end before the preemption below, however slow the message path is.
        var job = $$"""{"name": "quickstart", "tpu": {"type": "v4-8", "zone": "{{Zone}}"}, "code": "{{code}}", "script": "train.py", "args": ["--steps", "30", "--step-seconds", "0.1", "--wait-for-preemption"]}""";

        var messageId = await Gcloud.PublishAsync(pubsub.BaseUri, project, Path.Combine(root, "gcloud"), Topics.Jobs, job);
        var jobId = JobId.From("quickstart", "pubsub:" + messageId);
        var store = firestore.CreateStore(project);

        await WaitForAsync(store, jobId, j => j.State == JobState.Running && j.Attempt == 1 && j.LastCheckpointStep >= 5);
        await simulator.PreemptAsync(Zone, $"{jobId}-1");
        var done = await WaitForAsync(store, jobId, j => j.State.IsTerminal());

        Assert.True(done.State == JobState.Succeeded, $"{done.State}: {done.LastError}\n{HostOutput()}");
        Assert.Equal((2, 1, 0), (done.Attempt, done.PreemptionsSpent, done.FailuresSpent));
        var history = await store.GetHistoryAsync(jobId, None);
        Assert.Equal(
            [JobState.Queued, JobState.Provisioning, JobState.Launching, JobState.Running, JobState.Recovering, JobState.Provisioning, JobState.Launching, JobState.Running, JobState.Succeeded],
            history.Select(e => e.To));
        var secondLog = await File.ReadAllTextAsync(bucket.LocalPath($"{jobId}/logs/attempt-2/worker-0.log"));
        Assert.Contains("resumed from checkpoint step", secondLog, StringComparison.Ordinal);
        var tpu = new Google.Tpu.TpuRestClient(new Google.Http.GoogleApiTransport(http, Google.Http.FixedTokenSource.None), new Google.Tpu.TpuClientOptions { Project = project, BaseUri = simulator.BaseUri });
        await Eventually.TrueAsync(async () => (await tpu.ListQueuedResourcesAsync(Zone, None)).Count == 0, Patience);
        Assert.Contains("\"severity\"", hosts[FunctionNames.Submit].Output.ToString(), StringComparison.Ordinal);
    }

    private void StartHost(string function)
    {
        var port = LoopbackPorts.Choose();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "spotjax-functions.dll"));
        var environment = new Dictionary<string, string>
        {
            ["FUNCTION_TARGET"] = function,
            ["PORT"] = port.ToString(CultureInfo.InvariantCulture),
            ["SPOTJAX_LOOPBACK_ONLY"] = "1",
            ["GOOGLE_CLOUD_PROJECT"] = project,
            ["SPOTJAX_BUCKET"] = Bucket,
            ["SPOTJAX_BUCKET_DIR"] = bucket.Root,
            ["PUBSUB_EMULATOR_HOST"] = pubsub.HostPort,
            ["FIRESTORE_EMULATOR_HOST"] = firestore.BaseUri.Authority,
            ["SPOTJAX_TPU_API"] = simulator.BaseUri.AbsoluteUri,
            ["SPOTJAX_WORKERS"] = "local",
            ["SPOTJAX_NODES_ROOT"] = Path.Combine(root, "nodes"),
        };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        var output = new StringBuilder();
        var process = Process.Start(start) ?? throw new InvalidOperationException($"{function} did not start");
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        hosts[function] = (process, port, output);
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is not null)
        {
            lock (output)
            {
                output.AppendLine(line);
            }
        }
    }

    private async Task WaitHealthyAsync(int port) =>
        await Eventually.TrueAsync(
            async () =>
            {
                try
                {
                    return (await http.GetAsync(new Uri($"http://127.0.0.1:{port}/healthz"))).IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            },
            Patience);

    /// <summary>One push subscription per function and topic; several make every message arrive several times.</summary>
    private async Task SubscribeAsync(int copies)
    {
        var admin = new PubSubAdminClient(pubsub.Transport, pubsub.Client(project));
        foreach (var (topic, function) in FunctionOfTopic)
        {
            await admin.CreateTopicAsync(topic, None);
            for (var copy = 0; copy < copies; copy++)
            {
                await admin.CreateSubscriptionAsync(
                    new SubscriptionSpec
                    {
                        Name = $"{function}-{copy}",
                        Topic = topic,
                        AckDeadlineSeconds = 60,
                        PushEndpoint = new Uri($"http://127.0.0.1:{hosts[function].Port}/"),
                    },
                    None);
            }
        }
    }

    /// <summary>What Eventarc does for the control bucket: a binary-mode <c>object.v1.finalized</c> CloudEvent.</summary>
    private async Task PostStorageEventAsync(StorageObjectEvent e, CancellationToken ct)
    {
        var data = new JsonObject
        {
            ["bucket"] = e.Bucket,
            ["name"] = e.Name,
            ["generation"] = e.Generation.ToString(CultureInfo.InvariantCulture),
            ["size"] = e.Size.ToString(CultureInfo.InvariantCulture),
            ["updated"] = e.Updated.ToString("O", CultureInfo.InvariantCulture),
            ["kind"] = "storage#object",
        };
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"http://127.0.0.1:{hosts[FunctionNames.BucketEvents].Port}/"))
        {
            Content = new StringContent(data.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("ce-specversion", "1.0");
        request.Headers.Add("ce-type", "google.cloud.storage.object.v1.finalized");
        request.Headers.Add("ce-source", $"//storage.googleapis.com/projects/_/buckets/{e.Bucket}");
        request.Headers.Add("ce-subject", $"objects/{e.Name}");
        request.Headers.Add("ce-id", $"{e.Name}#{e.Generation}");
        request.Headers.Add("ce-time", e.Updated.ToString("O", CultureInfo.InvariantCulture));
        using var response = await http.SendAsync(request, ct);
        if (!response.IsSuccessStatusCode)
        {
            // Eventarc redelivers; so does the folder's scanner when a sink throws.
            throw new HttpRequestException($"bucket-events answered {(int)response.StatusCode}");
        }
    }

    /// <summary>Cloud Scheduler: POST to the sweep every second (Google Cloud's finest is a minute; local time is short).</summary>
    private async Task SweepEverySecondAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"http://127.0.0.1:{hosts[FunctionNames.Sweep].Port}/"));
            request.Headers.Add("X-CloudScheduler", "true");
            request.Headers.Add("X-CloudScheduler-JobName", "spotjax-sweep");
            try
            {
                using var response = await http.SendAsync(request, ct);
            }
            catch (HttpRequestException)
            {
                // Like a missed schedule: the next tick tries again.
            }
        }
    }

    private async Task<Job> WaitForAsync(IJobStore store, string jobId, Func<Job, bool> condition)
    {
        Job? job = null;
        try
        {
            await Eventually.TrueAsync(async () => (job = await store.GetAsync(jobId, None)) is { } j && condition(j), Patience);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new TimeoutException($"job {jobId} is {job?.State} attempt {job?.Attempt}: {job?.LastError}\n{HostOutput()}", e);
        }

        return job!;
    }

    private string HostOutput() => string.Join("\n", hosts.Select(h =>
    {
        lock (h.Value.Output)
        {
            var text = h.Value.Output.ToString();
            return $"--- {h.Key}:\n{(text.Length > 3000 ? text[^3000..] : text)}";
        }
    }));

    public async Task DisposeAsync()
    {
        await stopping.CancelAsync();
        try
        {
            await sweeps;
        }
        catch (OperationCanceledException)
        {
            // Stopped on purpose.
        }

        foreach (var (process, _, _) in hosts.Values)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            process.Dispose();
        }

        await bucket.DisposeAsync();
        await simulator.DisposeAsync();
        http.Dispose();
        stopping.Dispose();
        Directory.Delete(root, recursive: true);
    }
}
