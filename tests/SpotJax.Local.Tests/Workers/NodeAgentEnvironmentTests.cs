using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using SpotJax.Contracts;
using SpotJax.Core;
using SpotJax.Core.Agent;
using SpotJax.Core.Steps;
using SpotJax.Local.Workers;

namespace SpotJax.Local.Tests.Workers;

/// <summary>
/// The environment the original tool gives a project: uv, a venv made by <c>uv venv --python</c>, the
/// setup script run with that venv active, requirements through <c>uv pip install</c>. PyPI cannot be
/// reached here, so uv is the stand-in of <c>tests/tools/uv</c>, which records its calls.
/// </summary>
public sealed class NodeAgentEnvironmentTests
{
    private const string PytorchIndex = "https://download.pytorch.org/whl/cpu";

    [Fact]
    public async Task Launch_SetupScriptAndRequirements_RunInTheUvVenvWithUvOnThePathAndSpotVariables()
    {
        using var sandbox = new WorkerSandbox();
        var wheels = Path.Combine(sandbox.Root, "wheels");
        LocalWorkerRunnerPrepareTests.WriteWheel(wheels);
        LocalWorkerRunnerPrepareTests.WriteWheel(wheels, "setupdemo", 7);
        var record = Path.Combine(sandbox.Root, "uv-calls.jsonl");
        var pwned = Path.Combine(sandbox.Root, "PWNED");
        WriteProject(sandbox);
        var runner = new LocalWorkerRunner(sandbox.Options(extraEnvironment: StandInUv.Environment(wheels, record)) with { RequirementsCacheUri = "gs://bkt/cache/pip/" });
        var plan = sandbox.Plan(workers: 1, env: new Dictionary<string, string> { ["SPOT_CHECKPOINT_DIR"] = "gs://bkt/job/ckpt" }) with
        {
            ExtraIndexUrls = [LaunchFunction.LibtpuIndexUrl, PytorchIndex],
            PipArgs = ["--no-deps", $"--config-settings=k=$(touch {pwned})"],
        };
        var home = sandbox.Home(0);
        var venv = Path.Combine(home, "venv");

        var results = await runner.LaunchAsync(plan, CancellationToken.None);

        Assert.True(results[0].Succeeded, results[0].StderrTail);
        await sandbox.WaitForMarkerAsync(1, 0, "exited");
        var setup = (await File.ReadAllLinesAsync(Path.Combine(home, "setup-env.txt"))).Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        Assert.Equal(venv, setup["VIRTUAL_ENV"]);
        Assert.Equal(Path.Combine(venv, "bin", "python"), setup["PYTHON"]);
        Assert.Equal(Path.Combine(StandInUv.Folder, "uv"), setup["UV"]);
        Assert.Equal("job", setup["SPOT_JOB_ID"]);
        Assert.Equal(Path.Combine(sandbox.Bucket, "job", "ckpt"), setup["SPOT_CHECKPOINT_DIR"]);
        Assert.Equal("0", setup["SPOT_WORKER_ID"]);
        Assert.Contains($"IMPORTED 42 7 {venv}", await File.ReadAllTextAsync(sandbox.LogPath(1, 0)), StringComparison.Ordinal);

        var calls = await ReadCallsAsync(record);
        Assert.Equal(
            [
                ["--version"],
                ["venv", venv, "--python", "3.12"],
                ["pip", "install", "setupdemo"],
                ["pip", "install", "-r", "requirements.txt", "--extra-index-url", LaunchFunction.LibtpuIndexUrl, "--extra-index-url", PytorchIndex,
                    "--no-deps", $"--config-settings=k=$(touch {pwned})"],
            ],
            calls.Select(c => c.Argv));
        Assert.Equal([null, null, venv, venv], calls.Select(c => c.VirtualEnv));
        Assert.Equal(Path.Combine(home, "code"), calls[3].Cwd);
        Assert.False(File.Exists(pwned));
        Assert.Single(Directory.GetFiles(Path.Combine(sandbox.Bucket, "cache", "pip")));
    }

    [Fact]
    public async Task Launch_SecondAttemptOnTheSameWorker_ReusesTheVenvWithoutSetupOrInstall()
    {
        using var sandbox = new WorkerSandbox();
        var wheels = Path.Combine(sandbox.Root, "wheels");
        LocalWorkerRunnerPrepareTests.WriteWheel(wheels);
        LocalWorkerRunnerPrepareTests.WriteWheel(wheels, "setupdemo", 7);
        var record = Path.Combine(sandbox.Root, "uv-calls.jsonl");
        WriteProject(sandbox);
        var runner = new LocalWorkerRunner(sandbox.Options(extraEnvironment: StandInUv.Environment(wheels, record)));

        var first = await runner.LaunchAsync(sandbox.Plan(attempt: 1, workers: 1), CancellationToken.None);
        await sandbox.WaitForMarkerAsync(1, 0, "exited");
        var callsAfterFirst = (await ReadCallsAsync(record)).Count;
        var second = await runner.LaunchAsync(sandbox.Plan(attempt: 2, workers: 1), CancellationToken.None);
        await sandbox.WaitForMarkerAsync(2, 0, "exited");

        Assert.True(first[0].Succeeded, first[0].StderrTail);
        Assert.True(second[0].Succeeded, second[0].StderrTail);
        Assert.Equal(4, callsAfterFirst);
        Assert.Equal(["--version"], Assert.Single((await ReadCallsAsync(record)).Skip(callsAfterFirst)).Argv);
        Assert.Contains("IMPORTED 42 7", await File.ReadAllTextAsync(sandbox.LogPath(2, 0)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Launch_SameRequirementsOnAFreshNode_InstallsOfflineFromTheBucketCache()
    {
        using var sandbox = new WorkerSandbox();
        var wheels = Path.Combine(sandbox.Root, "wheels");
        LocalWorkerRunnerPrepareTests.WriteWheel(wheels);
        LocalWorkerRunnerPrepareTests.WriteWheel(wheels, "setupdemo", 7);
        WriteProject(sandbox);
        var options = sandbox.Options(extraEnvironment: StandInUv.Environment(wheels)) with { RequirementsCacheUri = "gs://bkt/cache/pip/" };
        var first = await new LocalWorkerRunner(options).LaunchAsync(sandbox.Plan(workers: 1), CancellationToken.None);
        await sandbox.WaitForMarkerAsync(1, 0, "exited");
        // The fresh node has only the setup script's package: requirements must come from the cache.
        Directory.Delete(wheels, recursive: true);
        LocalWorkerRunnerPrepareTests.WriteWheel(wheels, "setupdemo", 7);
        var freshNodes = Path.Combine(sandbox.Root, "fresh-nodes");

        var second = await new LocalWorkerRunner(options with { NodesRoot = freshNodes }).LaunchAsync(sandbox.Plan(attempt: 2, workers: 1), CancellationToken.None);

        Assert.True(first[0].Succeeded, first[0].StderrTail);
        Assert.True(second[0].Succeeded, second[0].StderrTail);
        await sandbox.WaitForMarkerAsync(2, 0, "exited");
        Assert.Contains("IMPORTED 42 7", await File.ReadAllTextAsync(sandbox.LogPath(2, 0)), StringComparison.Ordinal);
        var prepare = await File.ReadAllTextAsync(sandbox.PrepareLogPath(2, 0));
        Assert.Contains("pip install -r requirements.txt --offline\n", prepare, StringComparison.Ordinal);
        Assert.DoesNotContain("stored the wheel cache", prepare, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Launch_NoUvOnThePath_FallsBackToPythonVenvAndSaysSo()
    {
        using var sandbox = new WorkerSandbox();
        File.WriteAllText(Path.Combine(sandbox.Code, "env.py"), "import os\nprint('VENV', os.environ.get('VIRTUAL_ENV'))\n");
        var home = Path.Combine(sandbox.Nodes, "direct");
        var config = Config(sandbox, "env.py", home) with { UvSource = AgentConfig.UvFromPath };

        var (exitCode, stderr) = await LaunchAsync(home, config, new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin" });

        Assert.True(exitCode == 0, stderr);
        await WorkerSandbox.WaitForFileAsync(Path.Combine(sandbox.Bucket, "worker.log"), text => text.Contains($"VENV {Path.Combine(home, "venv")}", StringComparison.Ordinal));
        Assert.Contains("uv is not on the PATH", await File.ReadAllTextAsync(Path.Combine(home, "prepare.log")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Launch_UvDownload_FetchesThePinnedArchiveOnceChecksItAndKeepsItInTheNodeCache()
    {
        using var sandbox = new WorkerSandbox();
        File.WriteAllText(Path.Combine(sandbox.Code, "env.py"), "import os\nprint('VENV', os.environ.get('VIRTUAL_ENV'))\n");
        var archive = UvArchive();
        await using var release = ReleaseServer.Start(archive);
        var nodeHome = Path.Combine(sandbox.Root, "vm-home");
        var record = Path.Combine(sandbox.Root, "uv-calls.jsonl");
        var env = new Dictionary<string, string>
        {
            ["HOME"] = nodeHome,
            ["SPOTJAX_UV_DOWNLOAD_BASE"] = release.Root + "/astral-sh/uv/releases/download/0.12.1",
            ["SPOTJAX_UV_SHA256"] = Convert.ToHexStringLower(SHA256.HashData(archive)),
            ["SPOTJAX_UV_RECORD"] = record,
        };
        var firstHome = Path.Combine(sandbox.Nodes, "first");
        var secondHome = Path.Combine(sandbox.Nodes, "second");
        var cached = Path.Combine(nodeHome, ".cache", "spotjax", "uv-0.12.1", "uv");

        var first = await LaunchAsync(firstHome, Config(sandbox, "env.py", firstHome) with { UvSource = AgentConfig.UvDownload }, env);
        await WorkerSandbox.WaitForFileAsync(Path.Combine(firstHome, "markers", "exited"));
        var second = await LaunchAsync(secondHome, Config(sandbox, "env.py", secondHome) with { UvSource = AgentConfig.UvDownload }, env);
        await WorkerSandbox.WaitForFileAsync(Path.Combine(secondHome, "markers", "exited"));

        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.True(second.ExitCode == 0, second.Stderr);
        Assert.Equal([$"/astral-sh/uv/releases/download/0.12.1/uv-{Arch()}-unknown-linux-gnu.tar.gz"], release.Requests);
        Assert.True(File.Exists(cached));
        Assert.Contains($"{cached} venv {Path.Combine(firstHome, "venv")} --python 3.12", await File.ReadAllTextAsync(Path.Combine(firstHome, "prepare.log")), StringComparison.Ordinal);
        Assert.Contains($"uv 0.12.1 from the node cache {cached}", await File.ReadAllTextAsync(Path.Combine(secondHome, "prepare.log")), StringComparison.Ordinal);
        Assert.Equal(2, (await ReadCallsAsync(record)).Count(c => c.Argv[0] == "venv"));
    }

    [Fact]
    public async Task Launch_UvDownloadWithTheWrongHash_FailsAtStepUvWithoutRunningIt()
    {
        using var sandbox = new WorkerSandbox();
        File.WriteAllText(Path.Combine(sandbox.Code, "env.py"), "print('SHOULD NOT RUN')\n");
        await using var release = ReleaseServer.Start(UvArchive());
        var nodeHome = Path.Combine(sandbox.Root, "vm-home");
        var home = Path.Combine(sandbox.Nodes, "direct");
        var pinned = new string('a', 64);
        var env = new Dictionary<string, string>
        {
            ["HOME"] = nodeHome,
            ["SPOTJAX_UV_DOWNLOAD_BASE"] = release.Root,
            ["SPOTJAX_UV_SHA256"] = pinned,
        };

        var (exitCode, stderr) = await LaunchAsync(home, Config(sandbox, "env.py", home) with { UvSource = AgentConfig.UvDownload }, env);

        Assert.True(exitCode == 0, stderr);
        var failed = JsonDocument.Parse(await WorkerSandbox.WaitForFileAsync(Path.Combine(home, "markers", "prepare-failed"))).RootElement;
        Assert.Equal("uv", failed.GetProperty("step").GetString());
        Assert.Contains($"expected {pinned}: not running it", failed.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(nodeHome, ".cache", "spotjax", "uv-0.12.1", "uv")));
        Assert.False(Directory.Exists(Path.Combine(home, "venv")));
        Assert.False(File.Exists(Path.Combine(home, "markers", "exited")));
        Assert.DoesNotContain("SHOULD NOT RUN", File.Exists(Path.Combine(sandbox.Bucket, "worker.log")) ? await File.ReadAllTextAsync(Path.Combine(sandbox.Bucket, "worker.log")) : "", StringComparison.Ordinal);
    }

    /// <summary>A project in the original tool's shape: a setup script that calls uv pip install, a requirements file, a script.</summary>
    private static void WriteProject(WorkerSandbox sandbox)
    {
        File.WriteAllText(Path.Combine(sandbox.Code, "spotax_setup.sh"), """
            {
              echo "VIRTUAL_ENV=$VIRTUAL_ENV"
              echo "PYTHON=$(command -v python)"
              echo "UV=$(command -v uv)"
              echo "SPOT_JOB_ID=$SPOT_JOB_ID"
              echo "SPOT_CHECKPOINT_DIR=$SPOT_CHECKPOINT_DIR"
              echo "SPOT_WORKER_ID=$SPOT_WORKER_ID"
            } > ../setup-env.txt
            uv pip install setupdemo
            """);
        File.WriteAllText(Path.Combine(sandbox.Code, "requirements.txt"), "spotjaxdemo==0.1\n");
        File.WriteAllText(Path.Combine(sandbox.Code, "work.py"), """
            import os, spotjaxdemo, setupdemo
            print("IMPORTED", spotjaxdemo.VALUE, setupdemo.VALUE, os.environ.get("VIRTUAL_ENV"))
            """);
    }

    private static async Task<List<UvCall>> ReadCallsAsync(string record) =>
        (await File.ReadAllLinesAsync(record)).Select(line => JsonSerializer.Deserialize<UvCall>(line, new JsonSerializerOptions(JsonSerializerDefaults.Web))!).ToList();

    private sealed record UvCall(string[] Argv, string? VirtualEnv, string Cwd);

    private static AgentConfig Config(WorkerSandbox sandbox, string script, string home) => new()
    {
        JobId = "job",
        Attempt = 1,
        WorkerId = 0,
        NumWorkers = 1,
        CodeUri = sandbox.Code,
        Script = script,
        Args = [],
        Env = new Dictionary<string, string> { ["SPOT_WORKER_ID"] = "0" },
        MarkersUri = Path.Combine(home, "markers"),
        LogUri = Path.Combine(sandbox.Bucket, "worker.log"),
        PrepareLogUri = Path.Combine(home, "prepare.log"),
        MetadataUrl = "",
    };

    private static async Task<(int ExitCode, string Stderr)> LaunchAsync(string home, AgentConfig config, IReadOnlyDictionary<string, string> env)
    {
        Directory.CreateDirectory(home);
        await File.WriteAllBytesAsync(Path.Combine(home, NodeAgent.FileName), NodeAgent.Source());
        await File.WriteAllBytesAsync(Path.Combine(home, "attempt-1.json"), JsonSerializer.SerializeToUtf8Bytes(config, SpotJaxJson.Options));
        // The interpreter by its full path: the agent's PATH may be one without it.
        var start = new ProcessStartInfo(Interpreter.Value) { WorkingDirectory = home, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { NodeAgent.FileName, "launch", "attempt-1.json" })
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in env)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(WorkerSandbox.Patience);
        await process.WaitForExitAsync(timeout.Token);
        await stdout;
        return (process.ExitCode, await stderr);
    }

    private static readonly Lazy<string> Interpreter = new(() =>
    {
        var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("import sys; print(sys.executable)");
        using var process = Process.Start(start)!;
        var path = process.StandardOutput.ReadToEnd().Trim();
        process.WaitForExit();
        return path;
    });

    private static string Arch() => RuntimeInformation.OSArchitecture == Architecture.Arm64 ? "aarch64" : "x86_64";

    /// <summary>A release archive shaped like uv's (<c>uv-ARCH-unknown-linux-gnu/uv</c>), holding the stand-in.</summary>
    private static byte[] UvArchive()
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gzip))
        {
            var folder = $"uv-{Arch()}-unknown-linux-gnu";
            tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, folder + "/"));
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, folder + "/uv")
            {
                DataStream = new MemoryStream(File.ReadAllBytes(Path.Combine(StandInUv.Folder, "uv"))),
                Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute,
            });
        }

        return buffer.ToArray();
    }

    /// <summary>A loopback server standing in for GitHub's release downloads: one archive at any path, every request path recorded.</summary>
    private sealed class ReleaseServer : IAsyncDisposable
    {
        private readonly HttpListener listener = new();
        private readonly byte[] archive;
        private readonly Task serving;
        private readonly List<string> requests = [];

        private ReleaseServer(byte[] archive)
        {
            this.archive = archive;
            Root = $"http://127.0.0.1:{LoopbackPorts.Choose()}";
            listener.Prefixes.Add(Root + "/");
            listener.Start();
            serving = ServeAsync();
        }

        public string Root { get; }

        public IReadOnlyList<string> Requests
        {
            get
            {
                lock (requests)
                {
                    return [.. requests];
                }
            }
        }

        public static ReleaseServer Start(byte[] archive) => new(archive);

        public async ValueTask DisposeAsync()
        {
            listener.Stop();
            await serving;
            listener.Close();
        }

        private async Task ServeAsync()
        {
            while (true)
            {
                HttpListenerContext context;
                try
                {
                    context = await listener.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }

                lock (requests)
                {
                    requests.Add(context.Request.Url!.AbsolutePath);
                }

                try
                {
                    context.Response.ContentType = "application/gzip";
                    context.Response.ContentLength64 = archive.Length;
                    await context.Response.OutputStream.WriteAsync(archive);
                    context.Response.Close();
                }
                catch (Exception e) when (e is HttpListenerException or IOException)
                {
                    // The agent hung up; the next request is served all the same.
                }
            }
        }
    }
}
