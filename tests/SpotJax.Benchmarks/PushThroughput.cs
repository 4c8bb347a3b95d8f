using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SpotJax.Core;
using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Core.Steps;
using SpotJax.Functions;
using SpotJax.Google.Firestore;
using SpotJax.Google.Tests.Emulators;
using SpotJax.TpuSimulation;

namespace SpotJax.Benchmarks;

/// <summary>
/// Push throughput of each function host: one real <c>spotjax-functions</c> process per function (as on Cloud Run,
/// as the push end-to-end test starts them) over a deployment whose jobs are all RUNNING at attempt 2, and
/// Pub/Sub push envelopes posted straight to it, COUNT per function, CONCURRENCY at once. The messages do
/// real but cheap work, each reading the job and acknowledging:
/// provision, launch and recover get attempt 1 (stale), finish gets attempt 2 of a job that is not finished,
/// bucket-events gets the Cloud Storage notification of an <c>exited</c> marker of attempt 1, then of the agent's
/// log upload of the current attempt (answered without reading the job); submit gets new
/// job documents (validate, create the job, publish provision), then the same messages again (duplicates:
/// the create loses, the job is read, provision is published again because the job is still QUEUED).
/// The sweep host gets Cloud Scheduler calls one after the other.
/// </summary>
internal sealed class PushThroughput : IAsyncDisposable
{
    /// <summary>Messages sent one at a time first: they warm the host up and give the latency of a lone message.</summary>
    private const int Sequential = 100;

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);
    private readonly Dictionary<string, (Process Process, int Port, Queue<string> Output)> hosts = [];
    private readonly HttpClient http;
    private readonly string project;
    private readonly string bucket;

    private PushThroughput(string project, string bucket, int connections)
    {
        this.project = project;
        this.bucket = bucket;
        http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = connections }) { Timeout = TimeSpan.FromMinutes(5) };
    }

    public static async Task<PushThroughput> StartAsync(string root, string project, string bucket, FirestoreEmulator firestore, PubSubEmulator pubsub, TpuSimulator simulator)
    {
        var deployment = new PushThroughput(project, bucket, 256);
        try
        {
            foreach (var function in FunctionNames.All.Where(f => f != FunctionNames.Status))
            {
                deployment.StartHost(function, new Dictionary<string, string>
                {
                    ["SPOTJAX_LOOPBACK_ONLY"] = "1",
                    ["GOOGLE_CLOUD_PROJECT"] = project,
                    ["SPOTJAX_BUCKET"] = bucket,
                    ["SPOTJAX_BUCKET_DIR"] = Path.Combine(root, "bucket"),
                    ["PUBSUB_EMULATOR_HOST"] = pubsub.HostPort,
                    ["FIRESTORE_EMULATOR_HOST"] = firestore.BaseUri.Authority,
                    ["SPOTJAX_TPU_API"] = simulator.BaseUri.AbsoluteUri,
                    ["SPOTJAX_WORKERS"] = "local",
                    ["SPOTJAX_NODES_ROOT"] = simulator.NodesRoot,
                });
            }

            await Task.WhenAll(deployment.hosts.Values.Select(h => deployment.WaitHealthyAsync(h.Port)));
        }
        catch
        {
            await deployment.DisposeAsync();
            throw;
        }

        return deployment;
    }

    public async Task RunAsync(FirestoreJobStore store, int count, int concurrency)
    {
        var jobs = (await store.ListActiveAsync(CancellationToken.None)).Where(j => j.Attempt == 2).Select(j => j.Id).ToList();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"push throughput: one spotjax-functions host per function, {jobs.Count} RUNNING jobs at attempt 2, {count} messages per function at {concurrency} at once (after {Sequential} one at a time); load {Scale.LoadAverage()}"));
        Console.WriteLine("  function       messages                                  msg/s   p50 ms   p99 ms   alone ms  answers");

        await SweepAsync(jobs.Count);
        string Job(int i) => jobs[i % jobs.Count];
        await MeasureAsync(FunctionNames.Provision, "stale step (attempt 1 of 2)", count, concurrency, i => Step(new StepMessage(Job(i), 1)));
        await MeasureAsync(FunctionNames.Launch, "stale step (attempt 1 of 2)", count, concurrency, i => Step(new StepMessage(Job(i), 1)));
        await MeasureAsync(FunctionNames.Recover, "stale preemption (attempt 1 of 2)", count, concurrency,
            i => Step(new StepMessage(Job(i), 1) { Cause = AttemptEnd.Preempted, Detail = "benchmark: stale" }));
        await MeasureAsync(FunctionNames.Finish, "finish of a RUNNING job", count, concurrency, i => Step(new StepMessage(Job(i), 2)));
        await MeasureAsync(FunctionNames.BucketEvents, "exited marker of attempt 1 (stale)", count, concurrency,
            i => Notification(BucketLayout.Marker(Job(i), 1, 0, MarkerKind.Exited)));
        await MeasureAsync(FunctionNames.BucketEvents, "agent log upload (not a checkpoint)", count, concurrency,
            i => Notification(BucketLayout.LogObject(BucketLayout.LogPrefix(Job(i)), 2, 0)));
        // Submit: the same message ids twice, so the second round is Pub/Sub's redelivery of the first.
        var run = Guid.NewGuid().ToString("N")[..8];
        await MeasureAsync(FunctionNames.Submit, "new job document", count, concurrency, i => Submission(run, i), idPrefix: $"submit-{run}");
        await MeasureAsync(FunctionNames.Submit, "the same messages again (duplicates)", count, concurrency, i => Submission(run, i), idPrefix: $"submit-{run}");
    }

    /// <summary>Cloud Scheduler's calls to the sweep, one after the other (the sweep runs one at a time).</summary>
    private async Task SweepAsync(int jobs)
    {
        var durations = new List<double>();
        for (var i = 0; i < 6; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"http://127.0.0.1:{hosts[FunctionNames.Sweep].Port}/"));
            request.Headers.Add("X-CloudScheduler", "true");
            request.Headers.Add("X-CloudScheduler-JobName", "spotjax-sweep");
            var clock = Stopwatch.StartNew();
            using var response = await http.SendAsync(request);
            durations.Add(clock.Elapsed.TotalMilliseconds);
            Require(response.StatusCode == HttpStatusCode.NoContent, FunctionNames.Sweep, $"answered {(int)response.StatusCode}");
        }

        // The first call warms the host up.
        var warm = durations.Skip(1).Order().ToList();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {FunctionNames.Sweep,-13}  {$"scheduler call over {jobs} jobs, one at a time",-40}  {1000 / warm.Average(),5:0.0}  {warm[warm.Count / 2],7:0}  {warm[^1],7:0}  {durations[0],9:0}  {warm.Count + 1}x204 (first call: cold)"));
    }

    private async Task MeasureAsync(string function, string what, int count, int concurrency, Func<int, (JsonObject Message, string? Id)> message, string? idPrefix = null)
    {
        var uri = new Uri($"http://127.0.0.1:{hosts[function].Port}/");
        var answers = new Dictionary<int, int>();
        var prefix = idPrefix ?? $"{function}-{Guid.NewGuid():N}"[..20];

        async Task<double> PostAsync(int i)
        {
            var (body, id) = message(i);
            body["messageId"] = id ?? string.Create(CultureInfo.InvariantCulture, $"{prefix}-{i}");
            body["publishTime"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
            var envelope = new JsonObject { ["message"] = body, ["subscription"] = $"projects/{project}/subscriptions/{function}-bench" };
            using var content = new StringContent(envelope.ToJsonString(), Encoding.UTF8, "application/json");
            var clock = Stopwatch.StartNew();
            using var response = await http.PostAsync(uri, content);
            var elapsed = clock.Elapsed.TotalMilliseconds;
            lock (answers)
            {
                answers[(int)response.StatusCode] = answers.GetValueOrDefault((int)response.StatusCode) + 1;
            }

            return elapsed;
        }

        // One at a time first (these are the first messages, so they also warm the host), on indexes past the measured ones.
        var alone = new List<double>();
        for (var i = 0; i < Sequential; i++)
        {
            alone.Add(await PostAsync(count + i));
        }

        var latencies = new double[count];
        var next = -1;
        var wall = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            for (int i; (i = Interlocked.Increment(ref next)) < count;)
            {
                latencies[i] = await PostAsync(i);
            }
        }));
        wall.Stop();
        Array.Sort(latencies);
        alone.Sort();
        var summary = string.Join(", ", answers.OrderBy(a => a.Key).Select(a => $"{a.Value}x{a.Key}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {function,-13}  {what,-40}  {count / wall.Elapsed.TotalSeconds,5:0}  {latencies[count / 2],7:0.0}  {latencies[(int)(count * 0.99)],7:0.0}  {alone[alone.Count / 2],9:0.0}  {summary}"));
        Require(answers.Keys.All(code => code == 204), function, $"answered {summary}: {LastOutput(function)}");
    }

    private static (JsonObject, string?) Step(StepMessage step) =>
        (new JsonObject { ["data"] = Convert.ToBase64String(step.ToBytes()), ["attributes"] = new JsonObject { ["jobId"] = step.JobId } }, null);

    /// <summary>A Cloud Storage notification of an object finalized in the control bucket, as the bucket's notification publishes it.</summary>
    private (JsonObject, string?) Notification(string name)
    {
        var item = new JsonObject { ["bucket"] = bucket, ["name"] = name, ["generation"] = "1", ["size"] = "64", ["updated"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture) };
        return (new JsonObject
        {
            ["data"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(item.ToJsonString())),
            ["attributes"] = new JsonObject
            {
                ["eventType"] = "OBJECT_FINALIZE",
                ["bucketId"] = bucket,
                ["objectId"] = name,
                ["objectGeneration"] = "1",
                ["payloadFormat"] = "JSON_API_V1",
            },
        }, null);
    }

    private static (JsonObject, string?) Submission(string run, int i)
    {
        var document = new JsonObject
        {
            ["name"] = string.Create(CultureInfo.InvariantCulture, $"push-{run}-{i}"),
            ["tpu"] = new JsonObject { ["type"] = "v4-8", ["zone"] = "us-central2-b" },
            ["code"] = "gs://spotjax-scale/code/train.tar.gz",
            ["script"] = "train.py",
        };
        return (new JsonObject { ["data"] = Convert.ToBase64String(JsonSerializer.SerializeToUtf8Bytes(document)) }, null);
    }

    private void StartHost(string function, Dictionary<string, string> environment)
    {
        var port = LoopbackPorts.Choose();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "spotjax-functions.dll"));
        start.Environment["FUNCTION_TARGET"] = function;
        start.Environment["PORT"] = port.ToString(CultureInfo.InvariantCulture);
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        var output = new Queue<string>();
        var process = Process.Start(start) ?? throw new InvalidOperationException($"{function} did not start");
        process.OutputDataReceived += (_, e) => Keep(output, e.Data);
        process.ErrorDataReceived += (_, e) => Keep(output, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        hosts[function] = (process, port, output);
    }

    /// <summary>Every request is logged; only the last lines explain a failure.</summary>
    private static void Keep(Queue<string> output, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            if (output.Count == 20)
            {
                output.Dequeue();
            }

            output.Enqueue(line);
        }
    }

    private string LastOutput(string function)
    {
        var output = hosts[function].Output;
        lock (output)
        {
            return string.Join('\n', output);
        }
    }

    private static void Require(bool condition, string function, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException($"{function} {what}");
        }
    }

    private async Task WaitHealthyAsync(int port)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < Patience)
        {
            try
            {
                using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/healthz"));
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"the function host on port {port} was not healthy within {Patience}");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (process, _, _) in hosts.Values)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            process.Dispose();
        }

        http.Dispose();
    }
}
