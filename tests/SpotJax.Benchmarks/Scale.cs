using System.Diagnostics;
using System.Globalization;
using SpotJax.Contracts;
using SpotJax.Core;
using SpotJax.Core.Ports;
using SpotJax.Core.Steps;
using SpotJax.Google;
using SpotJax.Google.Firestore;
using SpotJax.Google.Http;
using SpotJax.Google.PubSub;
using SpotJax.Google.Tests.Emulators;
using SpotJax.Google.Tpu;
using SpotJax.TpuSimulation;

namespace SpotJax.Benchmarks;

/// <summary>
/// A deployment with many active jobs: JOBS jobs RUNNING in the Firestore emulator, each with its ACTIVE
/// queued resource in the TPU simulator (workers are not started: the sweep never looks at them).
/// <para>
/// Part 1, the sweep: the real <see cref="SweepFunction"/> through the production Firestore store and TPU
/// REST client, at 100 and JOBS jobs over 1 and 4 zones; for each, the median wall time of SWEEPS sweeps
/// (after one that warms up), then the median time of its two parts alone (the store's query of the active jobs, the
/// TPU lists of their zones), the Firestore requests, documents read and writes of one sweep (counted on
/// the store's HTTP transport), and the TPU API calls by method (counted by the simulator).
/// </para>
/// <para>
/// Part 2, push throughput (<see cref="PushThroughput"/>): one real <c>spotjax-functions</c> host per
/// function over the JOBS-job, 4-zone deployment, PUSH Pub/Sub push envelopes posted straight to each.
/// </para>
/// Usage: dotnet run -c Release --project tests/SpotJax.Benchmarks -- scale [jobs=1000] [push=2000] [concurrency=32] [sweeps=3]
/// </summary>
public static class Scale
{
    private const string Bucket = "spotjax-scale";

    public static async Task<int> RunAsync(string[] args)
    {
        var jobs = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1000;
        var push = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2000;
        var concurrency = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 32;
        var sweeps = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 3;
        var root = Directory.CreateTempSubdirectory("spotjax-scale-bench-").FullName;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"scale: {jobs} RUNNING jobs, {Environment.ProcessorCount} cores, load {LoadAverage()}, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC"));

        var firestore = new FirestoreEmulator();
        var pubsub = new PubSubEmulator();
        await Task.WhenAll(firestore.InitializeAsync(), pubsub.InitializeAsync());
        try
        {
            await using var simulator = await TpuSimulator.StartAsync(new TpuSimulatorOptions { NodesRoot = Path.Combine(root, "nodes"), ProvisionDelay = TimeSpan.Zero });
            using var tpuHttp = new HttpClient();
            using var counted = new FirestoreCalls();
            using var firestoreHttp = new HttpClient(counted) { Timeout = TimeSpan.FromSeconds(60) };

            Console.WriteLine();
            Console.WriteLine("one sweep (the real SweepFunction, production Firestore store and TPU REST client):");
            Console.WriteLine("  jobs  zones  seed s  sweep ms (median)  query ms  lists ms  Firestore requests            docs read  billed reads  writes  published  TPU API calls");
            string? pushProject = null;
            foreach (var (count, zones) in Sizes(jobs))
            {
                var project = $"scale-{count}-{zones}-{Guid.NewGuid():N}"[..24];
                var options = new ControlPlaneOptions { Project = project, Bucket = Bucket };
                var tpu = new TpuRestClient(new GoogleApiTransport(tpuHttp, FixedTokenSource.None), new TpuClientOptions { Project = project, BaseUri = simulator.BaseUri });
                var seedStore = firestore.CreateStore(project);
                await CreateTopicsAsync(pubsub, project);
                var seeding = Stopwatch.StartNew();
                // Names unique across the sizes: the simulator keeps node ids unique per zone whatever the project.
                await RunningFleet.SeedAsync(seedStore, tpu, options, $"scale{count}z{zones}", count, zones, attempt: 2, DateTimeOffset.UtcNow);
                seeding.Stop();

                var store = new FirestoreJobStore(
                    new GoogleApiTransport(firestoreHttp, new FixedTokenSource(GoogleEndpoints.FirestoreEmulatorToken)),
                    new FirestoreJobStoreOptions { Project = project, BaseUri = firestore.BaseUri });
                var bus = new CountingBus(new PubSubPublisher(pubsub.Transport, pubsub.Client(project)));
                var sweep = new SweepFunction(store, new JobTransitions(store), tpu, new StepPublisher(bus, options.Topics), options, TimeProvider.System, Console.WriteLine);
                await sweep.HandleAsync(CancellationToken.None);
                var walls = new List<double>();
                for (var i = 0; i < sweeps; i++)
                {
                    counted.Reset();
                    simulator.ResetCallCounts();
                    bus.Reset();
                    var wall = Stopwatch.StartNew();
                    await sweep.HandleAsync(CancellationToken.None);
                    walls.Add(wall.Elapsed.TotalMilliseconds);
                }

                walls.Sort();
                var requests = string.Join(", ", counted.Requests.Select(r => $"{r.Key} {r.Value}"));
                var (documentsRead, billedReads, writes) = (counted.DocumentsRead, counted.BilledReads, counted.Writes);
                var calls = string.Join(", ", simulator.CallCounts().Select(c => $"{c.Key} {c.Value}"));
                var published = bus.Published;

                // Where the time goes: the store's query of the active jobs, and the TPU lists of their zones (medians too).
                var queries = new List<double>();
                var lists = new List<double>();
                for (var i = 0; i < sweeps; i++)
                {
                    var part = Stopwatch.StartNew();
                    await store.ListActiveAsync(CancellationToken.None);
                    queries.Add(part.Elapsed.TotalMilliseconds);
                    part.Restart();
                    foreach (var zone in RunningFleet.Zones.Take(zones))
                    {
                        await tpu.ListQueuedResourcesAsync(zone, CancellationToken.None);
                    }

                    lists.Add(part.Elapsed.TotalMilliseconds);
                }

                queries.Sort();
                lists.Sort();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {count,4}  {zones,5}  {seeding.Elapsed.TotalSeconds,6:0.0}  {walls[walls.Count / 2],17:0}  {queries[queries.Count / 2],8:0}  {lists[lists.Count / 2],8:0}  {requests,-28}  {documentsRead,9}  {billedReads,12}  {writes,6}  {published,9}  {calls}"));
                if (count == jobs && zones == 4)
                {
                    pushProject = project;
                }
            }

            if (push > 0 && pushProject is not null)
            {
                Console.WriteLine();
                await using var hosts = await PushThroughput.StartAsync(root, pushProject, Bucket, firestore, pubsub, simulator);
                await hosts.RunAsync(firestore.CreateStore(pushProject), push, concurrency);
            }

            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"load at the end: {LoadAverage()}"));
            return 0;
        }
        finally
        {
            await pubsub.DisposeAsync();
            await firestore.DisposeAsync();
            TpuSimulator.KillRegisteredProcesses(Path.Combine(root, "nodes"));
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>Counts the step messages the sweep publishes (none, when every job runs as it should).</summary>
    private sealed class CountingBus(IMessageBus inner) : IMessageBus
    {
        private long published;

        public long Published => Interlocked.Read(ref published);

        public void Reset() => Interlocked.Exchange(ref published, 0);

        public Task<string> PublishAsync(string topic, OutgoingMessage message, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref published);
            return inner.PublishAsync(topic, message, cancellationToken);
        }
    }

    /// <summary>100 and JOBS jobs, over 1 and 4 zones.</summary>
    private static IEnumerable<(int Jobs, int Zones)> Sizes(int jobs) =>
        new[] { 100, jobs }.Distinct().SelectMany(n => new[] { (n, 1), (n, 4) });

    /// <summary>The step topics (without subscriptions): what the functions publish to must exist.</summary>
    internal static async Task CreateTopicsAsync(PubSubEmulator pubsub, string project)
    {
        var admin = new PubSubAdminClient(pubsub.Transport, pubsub.Client(project));
        foreach (var topic in Topics.Default.All)
        {
            await admin.CreateTopicAsync(topic, CancellationToken.None);
        }
    }

    /// <summary>The 1, 5 and 15 minute load averages (<c>/proc/loadavg</c>), to print beside each figure.</summary>
    internal static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";
}
