using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using SpotJax.Core;
using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Core.Ports;
using SpotJax.Core.Steps;
using SpotJax.Functions;
using SpotJax.Google.Http;
using SpotJax.Google.Tpu;
using SpotJax.Local.Messaging;
using SpotJax.Local.State;
using SpotJax.Local.Storage;
using SpotJax.Local.Workers;

namespace SpotJax.Tests.Handlers;

/// <summary>
/// The step functions over the real local parts (SQLite store, in-process bus, folder bucket, TPU
/// simulator through the production REST client, local worker processes), called directly, one
/// message at a time, so a test decides every delivery: twice, late, or out of order. What the
/// functions publish is captured per topic instead of being delivered.
/// </summary>
public sealed class HandlerHarness : IAsyncDisposable
{
    public const string Bucket = "spotjax-test";
    private readonly HttpClient http = new();
    private readonly ConcurrentDictionary<string, ConcurrentQueue<PubSubMessage>> published = new();
    private int nextMessageId;

    private HandlerHarness(string root, FakeTimeProvider time, TpuSimulation.TpuSimulator simulator, GoogleApiOptions? api)
    {
        Root = root;
        Time = time;
        Simulator = simulator;
        Store = new SqliteJobStore(Path.Combine(root, "jobs.db"), time);
        Bus = new InProcessMessageBus(new InProcessBusOptions(), time);
        foreach (var topic in new[] { Topics.Default.Jobs, Topics.Default.Provision, Topics.Default.Launch, Topics.Default.Recover, Topics.Default.Finish, Topics.Default.JobEvents })
        {
            published[topic] = new ConcurrentQueue<PubSubMessage>();
            Bus.Subscribe(topic, (message, _) =>
            {
                published[topic].Enqueue(message);
                return Task.CompletedTask;
            });
        }

        Objects = new FolderObjectStore(Path.Combine(root, "bucket"), Bucket, null, time);
        Tpu = new TpuRestClient(new GoogleApiTransport(http, FixedTokenSource.None, api), new TpuClientOptions { Project = "test-project", BaseUri = simulator.BaseUri });
        Options = new ControlPlaneOptions { Project = "test-project", Bucket = Bucket, AllowLocalCode = true };
        Workers = new LocalWorkerRunner(new LocalWorkerOptions
        {
            NodesRoot = Path.Combine(root, "nodes"),
            ResolveUri = uri => Objects.TryResolve(uri, out var path) ? path : uri,
            MetadataUrl = (zone, node) => simulator.MetadataUrl(zone, node).ToString(),
        });
        Functions = new SpotJaxFunctions(Store, Bus, Objects, Tpu, Workers, Options, time);
    }

    public string Root { get; }
    public FakeTimeProvider Time { get; }
    public TpuSimulation.TpuSimulator Simulator { get; }
    public SqliteJobStore Store { get; }
    public InProcessMessageBus Bus { get; }
    public FolderObjectStore Objects { get; }
    public ITpuApi Tpu { get; }
    public ControlPlaneOptions Options { get; }
    public LocalWorkerRunner Workers { get; }
    public SpotJaxFunctions Functions { get; }

    /// <param name="api">The TPU client's retries and deadlines; the transport's defaults when null.</param>
    public static async Task<HandlerHarness> StartAsync(GoogleApiOptions? api = null)
    {
        var root = Directory.CreateTempSubdirectory("spotjax-handlers-").FullName;
        // Starts at the real time: the simulator stamps its resources with the real clock.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var simulator = await TpuSimulation.TpuSimulator.StartAsync(
            new TpuSimulation.TpuSimulatorOptions { NodesRoot = Path.Combine(root, "nodes"), PreemptionGrace = TimeSpan.FromSeconds(1) });
        return new HandlerHarness(root, time, simulator, api);
    }

    /// <summary>
    /// A sweep over the same parts with other settings, with another TPU API in front of the simulator, or another
    /// bus in front of <see cref="Bus"/>, warning to <paramref name="warn"/>.
    /// </summary>
    public SweepFunction Sweep(ControlPlaneOptions options, ITpuApi? tpu = null, Action<string>? warn = null, IMessageBus? bus = null) =>
        new SpotJaxFunctions(Store, bus ?? Bus, Objects, tpu ?? Tpu, Workers, options, Time, warn).Sweep;

    /// <summary>A code folder holding <c>train.py</c> with the given source.</summary>
    public string Code(string source)
    {
        var dir = Directory.CreateTempSubdirectory("code-").FullName;
        File.WriteAllText(Path.Combine(dir, "train.py"), source);
        return dir;
    }

    public static string JobYaml(string code, string type = "v4-8", int maxRetries = 5, string stall = "{minutes: 60, action: warn}") =>
        $"""
        name: handler test
        tpu: {"{"}type: {type}, zone: us-central2-b{"}"}
        code: {code}
        script: train.py
        maxRetries: {maxRetries}
        stall: {stall}
        """;

    public PubSubMessage Message(byte[] data, IReadOnlyDictionary<string, string>? attributes = null) =>
        new(Interlocked.Increment(ref nextMessageId).ToString(System.Globalization.CultureInfo.InvariantCulture), data, attributes ?? new Dictionary<string, string>(), Time.GetUtcNow());

    public PubSubMessage Step(string jobId, int attempt, AttemptEnd? cause = null, string? detail = null, int? exitCode = null) =>
        Message(new StepMessage(jobId, attempt) { Cause = cause, Detail = detail, ExitCode = exitCode }.ToBytes());

    /// <summary>Submits a job document through <c>submit</c> and returns the job.</summary>
    public async Task<Job> SubmitAsync(string yaml, string submissionId = "s1")
    {
        var message = Message(Encoding.UTF8.GetBytes(yaml), new Dictionary<string, string> { [SubmitFunction.SubmissionIdAttribute] = submissionId });
        await Functions.Submit.HandleAsync(message, CancellationToken.None);
        return (await Store.GetAsync(JobId.From(JobDocument.Parse(yaml, new JobDocumentOptions { AllowLocalCode = true }).Name, $"client:{submissionId}"), CancellationToken.None))!;
    }

    public async Task<Job> JobAsync(string id) => (await Store.GetAsync(id, CancellationToken.None))!;

    public Task<IReadOnlyList<HistoryEntry>> HistoryAsync(string id) => Store.GetHistoryAsync(id, CancellationToken.None);

    /// <summary>The step messages published to a topic since the last call (after the bus delivered them).</summary>
    public async Task<IReadOnlyList<StepMessage>> TakeAsync(string topic)
    {
        await Bus.WhenIdleAsync(CancellationToken.None);
        var taken = new List<StepMessage>();
        while (published[topic].TryDequeue(out var message))
        {
            taken.Add(StepMessage.Parse(message));
        }

        return taken;
    }

    /// <summary>The job-events messages published since the last call (after the bus delivered them).</summary>
    public async Task<IReadOnlyList<PubSubMessage>> TakeEventsAsync()
    {
        await Bus.WhenIdleAsync(CancellationToken.None);
        var taken = new List<PubSubMessage>();
        while (published[Topics.Default.JobEvents].TryDequeue(out var message))
        {
            taken.Add(message);
        }

        return taken;
    }

    /// <summary>Drives a submitted job to RUNNING through provision, launch and the agents' prepared markers.</summary>
    public async Task<Job> RunAsync(Job job)
    {
        await Functions.Provision.HandleAsync(Step(job.Id, job.Attempt + 1), CancellationToken.None);
        await Functions.Launch.HandleAsync(Step(job.Id, job.Attempt + 1), CancellationToken.None);
        return await PreparedAsync(job.Id);
    }

    /// <summary>Waits for every worker's <c>prepared</c> marker of the current attempt and delivers its event.</summary>
    public async Task<Job> PreparedAsync(string jobId)
    {
        var job = await JobAsync(jobId);
        for (var worker = 0; worker < job.Workers; worker++)
        {
            await MarkerAsync(jobId, job.Attempt, worker, MarkerKind.Prepared);
        }

        return await JobAsync(jobId);
    }

    /// <summary>Waits for an agent's marker object and delivers its object-finalize event to <c>bucket-events</c>.</summary>
    public async Task<byte[]> MarkerAsync(string jobId, int attempt, int worker, MarkerKind kind)
    {
        var name = BucketLayout.Marker(jobId, attempt, worker, kind);
        byte[]? body = null;
        await Contracts.Eventually.TrueAsync(async () => (body = await Objects.GetAsync(name, CancellationToken.None)) is not null, what: name);
        await Functions.BucketEvents.HandleAsync(new StorageObjectEvent(Bucket, name, 1, body!.Length, Time.GetUtcNow()), CancellationToken.None);
        return body!;
    }

    public async ValueTask DisposeAsync()
    {
        await Simulator.DisposeAsync();
        await Bus.DisposeAsync();
        await Objects.DisposeAsync();
        Store.Dispose();
        http.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A worker process may still be writing its last line; the folder is temporary anyway.
        }
    }
}
