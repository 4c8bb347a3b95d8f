using SpotJax.Core.Tpu;
using SpotJax.Google.Http;
using SpotJax.Google.Tpu;
using SpotJax.TpuSimulation;

namespace SpotJax.Tpu.Tests;

/// <summary>A running simulator in its own temp folder, with the production client pointed at it.</summary>
internal sealed class SimulatorHarness : IAsyncDisposable
{
    public const string Project = "spotjax-test";

    private SimulatorHarness(TpuSimulator simulator, string root, int pageSize)
    {
        Simulator = simulator;
        Root = root;
        Http = new HttpClient();
        Client = new TpuRestClient(new GoogleApiTransport(Http, FixedTokenSource.None), new TpuClientOptions { Project = Project, BaseUri = simulator.BaseUri, ListPageSize = pageSize });
    }

    public TpuSimulator Simulator { get; }
    public TpuRestClient Client { get; }
    public HttpClient Http { get; }
    public string Root { get; }

    public static async Task<SimulatorHarness> StartAsync(
        Func<TpuSimulatorOptions, TpuSimulatorOptions>? configure = null, TimeProvider? time = null, int pageSize = 100)
    {
        var root = Path.Combine(Path.GetTempPath(), $"spotjax-tpu-{Guid.NewGuid():N}");
        var options = new TpuSimulatorOptions { NodesRoot = root };
        var simulator = await TpuSimulator.StartAsync(configure is null ? options : configure(options), time);
        return new SimulatorHarness(simulator, root, pageSize);
    }

    public static string NewId(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    public static string NewZone() => $"zone-{Guid.NewGuid():N}"[..16];

    public static QueuedResource SpotBody(string zone, string nodeId, string acceleratorType = "v4-8", string? validUntil = null) => new()
    {
        Tpu = new QueuedResourceTpu
        {
            NodeSpec =
            [
                new NodeSpec
                {
                    Parent = $"projects/{Project}/locations/{zone}",
                    NodeId = nodeId,
                    Node = new Node
                    {
                        AcceleratorType = acceleratorType,
                        RuntimeVersion = "tpu-ubuntu2204-base",
                        SchedulingConfig = new SchedulingConfig { Spot = true },
                        Labels = new Dictionary<string, string> { ["spotjax-job"] = nodeId, ["spotjax-attempt"] = "1" },
                        Metadata = new Dictionary<string, string> { ["startup-script"] = "echo hi" },
                    },
                },
            ],
        },
        Spot = new Spot(),
        QueueingPolicy = validUntil is null ? null : new QueueingPolicy { ValidUntilDuration = validUntil },
    };

    /// <summary>Creates a queued resource whose id is also its node id; returns that id.</summary>
    public async Task<string> CreateAsync(string zone, string acceleratorType = "v4-8", string? validUntil = null)
    {
        var id = NewId("qr");
        var operation = await Client.CreateQueuedResourceAsync(zone, id, SpotBody(zone, id, acceleratorType, validUntil), NewId("req"), CancellationToken.None);
        Assert.NotNull(operation);
        return id;
    }

    public async ValueTask DisposeAsync()
    {
        await Simulator.DisposeAsync();
        Http.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A killed process may still be closing a file in its worker folder; the temp folder is disposable.
        }
    }
}
