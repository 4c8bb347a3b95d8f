using System.Diagnostics;
using SpotJax.Core;
using SpotJax.Google.Firestore;
using SpotJax.Google.Http;

namespace SpotJax.Google.Tests.Emulators;

/// <summary>
/// One Firestore emulator (the Java process from the Google Cloud SDK, started directly because
/// killing the <c>gcloud</c> wrapper leaves Java listening) on free loopback ports, shared by every
/// test of <see cref="FirestoreEmulatorCollection"/>. Tests keep apart by project id: the emulator
/// keeps each project's documents separately.
/// </summary>
public sealed class FirestoreEmulator : IAsyncLifetime
{
    private const string MainClass = "com.google.cloud.datastore.emulator.firestore.CloudFirestore";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private ServerProcess? _process;

    /// <summary>The REST root, <c>http://127.0.0.1:PORT/</c>.</summary>
    public Uri BaseUri { get; private set; } = null!;

    /// <summary>Plain HTTP to the emulator, with the client-side timeout the transport's deadlines sit under.</summary>
    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>A transport as production builds it, with the emulator's administrator token.</summary>
    public GoogleApiTransport Transport => new(Http, new FixedTokenSource(GoogleEndpoints.FirestoreEmulatorToken));

    /// <summary>A project id no other test uses.</summary>
    public static string NewProject() => $"test-{Guid.NewGuid():N}"[..20];

    /// <summary>A store over <paramref name="project"/> in this emulator, in <paramref name="database"/> (the default one when null).</summary>
    public FirestoreJobStore CreateStore(string project, int pageSize = 300, string? database = null)
    {
        var options = new FirestoreJobStoreOptions { Project = project, BaseUri = BaseUri, PageSize = pageSize };
        return new(Transport, database is null ? options : options with { Database = database });
    }

    /// <summary>The document URL of <paramref name="path"/> (<c>jobs/ID</c>) in <paramref name="project"/>, for raw REST reads.</summary>
    public Uri DocumentUri(string project, string path) => new(BaseUri, $"v1/projects/{project}/databases/(default)/documents/{path}");

    /// <summary>Deletes every document of <paramref name="project"/> (the emulator's own reset call).</summary>
    public async Task WipeAsync(string project)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, new Uri(BaseUri, $"emulator/v1/projects/{project}/databases/(default)/documents"));
        using var response = await Http.SendAsync(request);
        response.EnsureSuccessStatusCode();
    }

    public async Task InitializeAsync()
    {
        var jar = Path.Combine(await SdkRootAsync(), "platform", "cloud-firestore-emulator", "cloud-firestore-emulator.jar");
        if (!File.Exists(jar))
        {
            throw new InvalidOperationException($"the Firestore emulator is not installed: {jar} is missing (gcloud components install cloud-firestore-emulator)");
        }

        var ports = LoopbackPorts.Choose(2);
        var (port, websocketPort) = (ports[0], ports[1]);
        BaseUri = new Uri($"http://127.0.0.1:{port}/");
        var start = new ProcessStartInfo(JavaCommand());
        foreach (var argument in new[]
        {
            "-cp", jar, MainClass, "start", "--host=127.0.0.1", $"--port={port}",
            "--database-mode=firestore-native", $"--websocket_port={websocketPort}",
        })
        {
            start.ArgumentList.Add(argument);
        }

        _process = ServerProcess.Start(start);
        await _process.WaitForOkAsync(Http, BaseUri, "Firestore emulator", StartTimeout);
    }

    public async Task DisposeAsync()
    {
        if (_process is { } process)
        {
            await process.DisposeAsync();
        }

        Http.Dispose();
    }

    private static string JavaCommand() =>
        Environment.GetEnvironmentVariable("JAVA_HOME") is { Length: > 0 } home && File.Exists(Path.Combine(home, "bin", "java"))
            ? Path.Combine(home, "bin", "java")
            : "java";

    /// <summary>The Debian package's location, else whatever <c>gcloud</c> reports.</summary>
    private static async Task<string> SdkRootAsync()
    {
        const string packaged = "/usr/lib/google-cloud-sdk";
        if (Directory.Exists(Path.Combine(packaged, "platform", "cloud-firestore-emulator")))
        {
            return packaged;
        }

        var info = new ProcessStartInfo("gcloud") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in new[] { "info", "--format=value(installation.sdk_root)" })
        {
            info.ArgumentList.Add(argument);
        }

        using var gcloud = Process.Start(info) ?? throw new InvalidOperationException("gcloud did not start");
        var root = await gcloud.StandardOutput.ReadToEndAsync();
        await gcloud.WaitForExitAsync();
        return gcloud.ExitCode == 0 && root.Trim() is { Length: > 0 } found
            ? found
            : throw new InvalidOperationException("gcloud did not report its SDK root");
    }
}
