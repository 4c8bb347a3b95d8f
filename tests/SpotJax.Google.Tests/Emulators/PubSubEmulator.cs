using System.Diagnostics;
using SpotJax.Core;
using SpotJax.Google.Http;
using SpotJax.Google.PubSub;

namespace SpotJax.Google.Tests.Emulators;

/// <summary>
/// Google's Pub/Sub emulator, started once per test run as its Java process on a free loopback
/// port (the gcloud wrapper would leave the Java process behind when stopped), and stopped by its
/// own process id.
/// </summary>
public sealed class PubSubEmulator : IAsyncLifetime
{
    private static readonly TimeSpan StartPatience = TimeSpan.FromSeconds(60);
    private ServerProcess? _process;

    /// <summary>What <c>PUBSUB_EMULATOR_HOST</c> would hold: <c>127.0.0.1:PORT</c>.</summary>
    public string HostPort { get; private set; } = "";

    public Uri BaseUri => new($"http://{HostPort}/");

    public HttpClient Http { get; } = new();

    /// <summary>Clients reach the emulator the way production code does: through <see cref="GoogleEndpoints"/>.</summary>
    public GoogleEndpoint Endpoint =>
        new GoogleEndpoints(name => name == GoogleEndpoints.PubSubEmulatorHostVariable ? HostPort : null).PubSub;

    /// <summary>A transport with quick retries, for tests that expect failures.</summary>
    public GoogleApiTransport Transport { get; private set; } = null!;

    public PubSubClientOptions Client(string project) => new() { Project = project, BaseUri = Endpoint.BaseUri };

    public async Task InitializeAsync()
    {
        var jar = await FindJarAsync();
        var port = LoopbackPorts.Choose(1)[0];
        HostPort = $"127.0.0.1:{port}";
        var start = new ProcessStartInfo("java");
        foreach (var argument in new[] { "-jar", jar, "--host=127.0.0.1", $"--port={port}" })
        {
            start.ArgumentList.Add(argument);
        }

        _process = ServerProcess.Start(start);
        Transport = Endpoint.CreateTransport(Http, new GoogleApiOptions
        {
            BaseDelay = TimeSpan.FromMilliseconds(5),
            MaxDelay = TimeSpan.FromMilliseconds(50),
            Deadline = TimeSpan.FromSeconds(30),
        });
        await _process.WaitForOkAsync(Http, BaseUri, "Pub/Sub emulator", StartPatience);
    }

    public async Task DisposeAsync()
    {
        if (_process is { } process)
        {
            await process.DisposeAsync();
        }

        Http.Dispose();
    }

    /// <summary>The emulator jar under the Cloud SDK's root, as <c>gcloud info</c> reports it.</summary>
    private static async Task<string> FindJarAsync()
    {
        var info = new ProcessStartInfo("gcloud") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "info", "--format=value(installation.sdk_root)" })
        {
            info.ArgumentList.Add(argument);
        }

        using var gcloud = Process.Start(info) ?? throw new InvalidOperationException("gcloud did not start");
        var root = (await gcloud.StandardOutput.ReadToEndAsync()).Trim();
        await gcloud.WaitForExitAsync();
        var lib = Path.Combine(root, "platform", "pubsub-emulator", "lib");
        var jars = Directory.Exists(lib) ? Directory.GetFiles(lib, "cloud-pubsub-emulator-*-all.jar") : [];
        return jars.Length > 0
            ? jars.Order(StringComparer.Ordinal).Last()
            : throw new InvalidOperationException($"no Pub/Sub emulator jar in '{lib}'; install the pubsub-emulator gcloud component");
    }
}
