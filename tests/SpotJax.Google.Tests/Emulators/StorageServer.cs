using System.Diagnostics;
using SpotJax.Core;
using SpotJax.Google.Storage;

namespace SpotJax.Google.Tests.Emulators;

/// <summary>
/// One Cloud Storage JSON API server (the one inside the npm package firebase-tools, started by
/// <c>Storage/storage-server/server.js</c> without its rules runtime) on a free loopback port, shared by
/// every test of <see cref="StorageServerCollection"/>. Tests keep apart by bucket: the server creates
/// a bucket on its first use.
/// </summary>
public sealed class StorageServer : IAsyncLifetime
{
    private const string InstallScript = "tests/SpotJax.Google.Tests/Storage/storage-server/install.sh";
    private const int StartAttempts = 3;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("spotjax-storage-").FullName;
    private ServerProcess? _process;

    /// <summary>The JSON API root, <c>http://127.0.0.1:PORT/storage/v1/</c>.</summary>
    public Uri BaseUri { get; private set; } = null!;

    /// <summary>Plain HTTP to the server, for reading raw answers.</summary>
    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>
    /// Where <c>install.sh</c> puts the npm packages: <c>$SPOTJAX_TEST_TOOLS/storage-server</c>, by default
    /// under <c>~/.cache/spotjax-test-tools</c>, outside the repository.
    /// </summary>
    public static string InstallDirectory =>
        Path.Combine(
            Environment.GetEnvironmentVariable("SPOTJAX_TEST_TOOLS") is { Length: > 0 } tools
                ? tools
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "spotjax-test-tools"),
            "storage-server");

    /// <summary>A bucket name no other test uses.</summary>
    public static string NewBucket() => $"spotjax-test-{Guid.NewGuid():N}";

    /// <summary>The production store pointed at this server, on a bucket of its own.</summary>
    public Task<GcsObjectStore> CreateStoreAsync(int listPageSize = 1000, int singleRequestUploadLimit = 8 * 1024 * 1024) =>
        GcsObjectStore.CreateAsync(
            new GcsObjectStoreOptions
            {
                Bucket = NewBucket(),
                BaseUri = BaseUri,
                ListPageSize = listPageSize,
                SingleRequestUploadLimit = singleRequestUploadLimit,
            },
            CancellationToken.None);

    /// <summary>The object resource URL of <paramref name="name"/>, for raw JSON API reads.</summary>
    public Uri ObjectUri(string bucket, string name) => new(BaseUri, $"b/{bucket}/o/{Uri.EscapeDataString(name)}");

    public async Task InitializeAsync()
    {
        var modules = Path.Combine(InstallDirectory, "node_modules");
        if (!Directory.Exists(Path.Combine(modules, "firebase-tools")))
        {
            throw new InvalidOperationException($"the storage server is not installed in {InstallDirectory}: run {InstallScript} (.ci/run does)");
        }

        var script = Path.Combine(AppContext.BaseDirectory, "Storage", "storage-server", "server.js");
        // Another process may take the free port between choosing and listening: choose again.
        for (var attempt = 1; ; attempt++)
        {
            var port = LoopbackPorts.Choose(1)[0];
            BaseUri = new Uri($"http://127.0.0.1:{port}/storage/v1/");
            var start = new ProcessStartInfo("node")
            {
                ArgumentList = { script, port.ToString(System.Globalization.CultureInfo.InvariantCulture), _dataDirectory },
                Environment = { ["NODE_PATH"] = modules },
                // The server exits when its stdin closes, so it dies with a test host that crashed.
                RedirectStandardInput = true,
            };
            var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var process = ServerProcess.Start(start, line =>
            {
                if (line.StartsWith("ready ", StringComparison.Ordinal))
                {
                    ready.TrySetResult();
                }
            });
            _process = process;

            var finished = await Task.WhenAny(ready.Task, process.WaitForExitAsync(), Task.Delay(StartTimeout));
            if (finished == ready.Task)
            {
                return;
            }

            var exited = process.HasExited;
            var output = process.Output();
            await StopAsync();
            if (!exited || attempt == StartAttempts || !output.Contains("EADDRINUSE", StringComparison.Ordinal))
            {
                throw new InvalidOperationException(
                    $"the storage server {(exited ? "exited" : $"was not ready within {StartTimeout}")}:\n{output}");
            }
        }
    }

    public async Task DisposeAsync()
    {
        await StopAsync();
        Http.Dispose();
        Directory.Delete(_dataDirectory, recursive: true);
    }

    /// <summary>Stops the server by its process id and waits until it is gone.</summary>
    private async Task StopAsync()
    {
        if (_process is not { } process)
        {
            return;
        }

        _process = null;
        await process.DisposeAsync();
    }
}
