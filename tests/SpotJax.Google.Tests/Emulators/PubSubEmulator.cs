using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
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
    private const int OutputLinesKept = 200;
    private static readonly TimeSpan StartPatience = TimeSpan.FromSeconds(60);
    private readonly Queue<string> _output = new();
    private Process? _process;

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
        var port = FreePort();
        HostPort = $"127.0.0.1:{port}";
        var start = new ProcessStartInfo("java")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "-jar", jar, "--host=127.0.0.1", $"--port={port}" })
        {
            start.ArgumentList.Add(argument);
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException("java did not start");
        _process.OutputDataReceived += (_, e) => Note(e.Data);
        _process.ErrorDataReceived += (_, e) => Note(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        Transport = Endpoint.CreateTransport(Http, new GoogleApiOptions
        {
            BaseDelay = TimeSpan.FromMilliseconds(5),
            MaxDelay = TimeSpan.FromMilliseconds(50),
            Deadline = TimeSpan.FromSeconds(30),
        });
        await WaitUntilReadyAsync();
    }

    public async Task DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process?.Dispose();
        Http.Dispose();
    }

    private async Task WaitUntilReadyAsync()
    {
        using var patience = new CancellationTokenSource(StartPatience);
        while (true)
        {
            if (_process!.HasExited)
            {
                throw new InvalidOperationException($"the Pub/Sub emulator exited with {_process.ExitCode}: {Output()}");
            }

            try
            {
                if ((await Http.GetStringAsync(BaseUri, patience.Token)).Trim() == "Ok")
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"the Pub/Sub emulator did not answer within {StartPatience}: {Output()}");
            }

            await Task.Delay(50, CancellationToken.None);
        }
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

    private void Note(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                // The emulator logs every request; only the latest lines help explain a failure.
                if (_output.Count == OutputLinesKept)
                {
                    _output.Dequeue();
                }

                _output.Enqueue(line);
            }
        }
    }

    private string Output()
    {
        lock (_output)
        {
            return string.Join('\n', _output);
        }
    }

    private static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }
}
