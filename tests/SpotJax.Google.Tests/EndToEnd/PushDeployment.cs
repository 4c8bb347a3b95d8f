using System.Diagnostics;
using System.Globalization;
using System.Text;
using SpotJax.Contracts;
using SpotJax.Core;
using SpotJax.Core.Ports;
using SpotJax.Functions;
using SpotJax.Google.Firestore;
using SpotJax.Google.PubSub;
using SpotJax.Google.Tests.Emulators;
using SpotJax.Local.Storage;
using SpotJax.TpuSimulation;

namespace SpotJax.Google.Tests.EndToEnd;

/// <summary>
/// A SpotJax deployment as on Google Cloud, on this machine: every function in its own
/// <c>spotjax-functions</c> host (as on Cloud Run) behind Pub/Sub emulator push subscriptions, state
/// in the Firestore emulator, the TPU simulator with local worker processes, a folder for the
/// control bucket whose finalize events reach <c>bucket-events</c> as in production: Cloud Storage
/// Pub/Sub notifications (<see cref="StorageNotificationBridge"/>) on <c>spotjax-bucket-events</c>,
/// pushed by a subscription like every other topic, and the sweep called every second as Cloud
/// Scheduler would.
/// </summary>
public sealed class PushDeployment : IAsyncDisposable
{
    public const string Zone = "us-central2-b";

    /// <summary>The topic the bucket's notification configuration publishes to (infra/locals.tf, <c>topics.bucket_events</c>).</summary>
    public const string BucketEventsTopic = "spotjax-bucket-events";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    private static readonly Dictionary<string, string> FunctionOfTopic = new()
    {
        [Topics.Default.Jobs] = FunctionNames.Submit,
        [Topics.Default.Provision] = FunctionNames.Provision,
        [Topics.Default.Launch] = FunctionNames.Launch,
        [Topics.Default.Recover] = FunctionNames.Recover,
        [Topics.Default.Finish] = FunctionNames.Finish,
        [Topics.Default.JobEvents] = FunctionNames.Notify,
        [BucketEventsTopic] = FunctionNames.BucketEvents,
    };

    private readonly PubSubEmulator pubsub;
    private readonly FirestoreEmulator firestore;
    private readonly string root = Directory.CreateTempSubdirectory("spotjax-deployment-").FullName;
    private readonly Dictionary<string, (Process Process, int Port, StringBuilder Output)> hosts = [];
    private readonly PushDeploymentOptions options;
    private readonly HttpClient http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private readonly CancellationTokenSource stopping = new();
    private Task sweeps = Task.CompletedTask;
    private int sweepsSucceeded;
    private int sweepsFailed;
    private int sweepsUnanswered;

    private PushDeployment(PubSubEmulator pubsub, FirestoreEmulator firestore, PushDeploymentOptions options)
    {
        this.pubsub = pubsub;
        this.options = options;
        this.firestore = firestore;
        Store = firestore.CreateStore(Project);
    }

    public string Project { get; } = $"dep-{Guid.NewGuid():N}"[..20];

    /// <summary>The control bucket's name.</summary>
    public string Bucket { get; } = "spotjax-deployment";

    /// <summary>The control bucket (a folder).</summary>
    public FolderObjectStore Objects { get; private set; } = null!;

    public TpuSimulator Simulator { get; private set; } = null!;

    /// <summary>The deployment's job store.</summary>
    public FirestoreJobStore Store { get; }

    /// <summary>What a client on this machine (the spotjax program) sets to reach this deployment.</summary>
    public IReadOnlyDictionary<string, string> ClientEnvironment => new Dictionary<string, string>
    {
        [GoogleEndpoints.PubSubEmulatorHostVariable] = pubsub.HostPort,
        [GoogleEndpoints.FirestoreEmulatorHostVariable] = firestore.BaseUri.Authority,
        [global::SpotJax.Cli.Target.BucketDirVariable] = Objects.Root,
        [global::SpotJax.Cli.TargetOptions.ProjectVariable] = Project,
        [global::SpotJax.Cli.TargetOptions.BucketVariable] = Bucket,
    };

    /// <param name="deliveriesPerMessage">
    /// Push subscriptions per topic and function: more than one delivers every message (bucket notifications included)
    /// that many times, in no particular order.
    /// </param>
    public static Task<PushDeployment> StartAsync(PubSubEmulator pubsub, FirestoreEmulator firestore, int deliveriesPerMessage = 1) =>
        StartAsync(pubsub, firestore, new PushDeploymentOptions { DeliveriesPerMessage = deliveriesPerMessage });

    /// <summary>A deployment as <paramref name="options"/> set it up (the chaos run puts its proxies in the message path).</summary>
    public static async Task<PushDeployment> StartAsync(PubSubEmulator pubsub, FirestoreEmulator firestore, PushDeploymentOptions options)
    {
        var deployment = new PushDeployment(pubsub, firestore, options);
        try
        {
            await deployment.StartAsync(options.DeliveriesPerMessage);
        }
        catch
        {
            await deployment.DisposeAsync();
            throw;
        }

        return deployment;
    }

    private async Task StartAsync(int deliveriesPerMessage)
    {
        var simulator = new TpuSimulatorOptions
        {
            NodesRoot = Path.Combine(root, "nodes"),
            ProvisionDelay = TimeSpan.FromMilliseconds(300),
            PreemptionGrace = TimeSpan.FromSeconds(3),
        };
        Simulator = await TpuSimulator.StartAsync(options.Simulator?.Invoke(simulator) ?? simulator);
        Objects = new FolderObjectStore(Path.Combine(root, "bucket"), Bucket);
        foreach (var function in FunctionNames.All)
        {
            StartHost(function, LoopbackPorts.Choose());
        }

        await Task.WhenAll(FunctionNames.All.Select(f => WaitHealthyAsync(PortOf(f))));
        await SubscribeAsync(deliveriesPerMessage);
        var notifications = new StorageNotificationBridge(new PubSubPublisher(pubsub.Transport, pubsub.Client(Project)), BucketEventsTopic, Objects);
        Objects.OnFinalize(notifications.PublishAsync);
        Objects.Start();
        sweeps = SweepEverySecondAsync(stopping.Token);
    }

    /// <summary>The last lines each function host wrote, for a failure message.</summary>
    public string HostOutput() => string.Join("\n", Hosts().Select(h =>
    {
        lock (h.Value.Output)
        {
            var text = h.Value.Output.ToString();
            return $"--- {h.Key}:\n{(text.Length > 3000 ? text[^3000..] : text)}";
        }
    }));

    private List<KeyValuePair<string, (Process Process, int Port, StringBuilder Output)>> Hosts()
    {
        lock (hosts)
        {
            return [.. hosts];
        }
    }

    /// <summary>Everything one function's host has written so far.</summary>
    public string OutputOf(string function)
    {
        var output = Hosts().Single(h => h.Key == function).Value.Output;
        lock (output)
        {
            return output.ToString();
        }
    }

    /// <summary>The loopback port a function's host listens on (the same across restarts).</summary>
    public int PortOf(string function)
    {
        lock (hosts)
        {
            return hosts[function].Port;
        }
    }

    /// <summary>SIGKILLs a function's host (only the host: worker processes it started run on, as on a TPU VM).</summary>
    /// <returns>False when it was not running.</returns>
    public bool Kill(string function)
    {
        lock (hosts)
        {
            var process = hosts[function].Process;
            try
            {
                if (process.HasExited)
                {
                    return false;
                }

                process.Kill(entireProcessTree: false);
                return true;
            }
            catch (InvalidOperationException)
            {
                // Exited between the check and the kill.
                return false;
            }
        }
    }

    /// <summary>Starts a function's host again on its port if it is not running (after <see cref="Kill"/>, say).</summary>
    /// <returns>False when it was running.</returns>
    public bool Restart(string function)
    {
        lock (hosts)
        {
            var (process, port, output) = hosts[function];
            if (!process.HasExited)
            {
                return false;
            }

            process.Dispose();
            Append(output, "--- restarted");
            StartHost(function, port, output);
            return true;
        }
    }

    /// <summary>Whether a function's host is running now.</summary>
    public bool IsRunning(string function)
    {
        lock (hosts)
        {
            return !hosts[function].Process.HasExited;
        }
    }

    private void StartHost(string function, int port, StringBuilder? output = null)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "spotjax-functions.dll"));
        var environment = new Dictionary<string, string>
        {
            ["FUNCTION_TARGET"] = function,
            ["PORT"] = port.ToString(CultureInfo.InvariantCulture),
            ["SPOTJAX_LOOPBACK_ONLY"] = "1",
            ["GOOGLE_CLOUD_PROJECT"] = Project,
            ["SPOTJAX_BUCKET"] = Bucket,
            ["SPOTJAX_BUCKET_DIR"] = Objects.Root,
            ["PUBSUB_EMULATOR_HOST"] = options.PublishHost?.Invoke(function) ?? pubsub.HostPort,
            ["FIRESTORE_EMULATOR_HOST"] = firestore.BaseUri.Authority,
            ["SPOTJAX_TPU_API"] = Simulator.BaseUri.AbsoluteUri,
            ["SPOTJAX_WORKERS"] = "local",
            ["SPOTJAX_NODES_ROOT"] = Path.Combine(root, "nodes"),
        };
        foreach (var (name, value) in environment.Concat(options.HostEnvironment))
        {
            start.Environment[name] = value;
        }

        output ??= new StringBuilder();
        var process = Process.Start(start) ?? throw new InvalidOperationException($"{function} did not start");
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        lock (hosts)
        {
            hosts[function] = (process, port, output);
        }
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

    private async Task SubscribeAsync(int copies)
    {
        var admin = new PubSubAdminClient(pubsub.Transport, pubsub.Client(Project));
        foreach (var (topic, function) in FunctionOfTopic)
        {
            await admin.CreateTopicAsync(topic, CancellationToken.None);
            for (var copy = 0; copy < copies; copy++)
            {
                await admin.CreateSubscriptionAsync(
                    new SubscriptionSpec
                    {
                        Name = $"{function}-{copy}",
                        Topic = topic,
                        AckDeadlineSeconds = 60,
                        PushEndpoint = options.PushEndpoint?.Invoke(function, HostUri(function)) ?? HostUri(function),
                    },
                    CancellationToken.None);
            }
        }
    }

    private Uri HostUri(string function) => new($"http://127.0.0.1:{PortOf(function)}/");

    /// <summary>
    /// Cloud Scheduler: POST to the sweep every second (Google Cloud's finest is a minute; local time is short), whatever
    /// the last call did: a refused connection (the host restarting), a call that timed out (a slow or killed host)
    /// and an error answer are missed schedules, and the next tick calls again.
    /// </summary>
    private async Task SweepEverySecondAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, HostUri(FunctionNames.Sweep));
            request.Headers.Add("X-CloudScheduler", "true");
            request.Headers.Add("X-CloudScheduler-JobName", "spotjax-sweep");
            try
            {
                using var response = await http.SendAsync(request, ct);
                Interlocked.Increment(ref response.IsSuccessStatusCode ? ref sweepsSucceeded : ref sweepsFailed);
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException && !ct.IsCancellationRequested)
            {
                Interlocked.Increment(ref sweepsUnanswered);
            }
        }
    }

    /// <summary>The scheduler's calls of the sweep so far: answered 2xx, answered otherwise, and unanswered (refused or timed out).</summary>
    public (int Succeeded, int Failed, int Unanswered) SweepPasses => (Volatile.Read(ref sweepsSucceeded), Volatile.Read(ref sweepsFailed), Volatile.Read(ref sweepsUnanswered));

    public async ValueTask DisposeAsync()
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

        List<Process> processes;
        lock (hosts)
        {
            processes = [.. hosts.Values.Select(h => h.Process)];
        }

        foreach (var process in processes)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            process.Dispose();
        }

        if (Objects is not null)
        {
            await Objects.DisposeAsync();
        }

        if (Simulator is not null)
        {
            await Simulator.DisposeAsync();
        }

        http.Dispose();
        stopping.Dispose();
        Directory.Delete(root, recursive: true);
    }
}
