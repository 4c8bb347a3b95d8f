using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using SpotJax.Contracts;
using SpotJax.Core.Ports;
using SpotJax.Local.Storage;

namespace SpotJax.Ssh.Tests;

/// <summary>
/// One test's private world: a local control bucket that <c>gs://bkt/</c> maps to (host keys,
/// markers, logs), a code folder, a wheel folder, and one remote root per worker on the sshd hosts.
/// Disposing it kills every process group an agent published and deletes the folder.
/// </summary>
internal sealed class SshSandbox : IDisposable
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    public SshSandbox()
    {
        Root = Path.Combine(Path.GetTempPath(), "spotjax-ssh-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Bucket);
        Directory.CreateDirectory(Code);
        Directory.CreateDirectory(Homes);
        Objects = new FolderObjectStore(Bucket, "bkt");
    }

    public string Root { get; }

    public string Bucket => Path.Combine(Root, "bucket");

    public string Code => Path.Combine(Root, "code");

    public string Homes => Path.Combine(Root, "homes");

    public string Wheels => Path.Combine(Root, "wheels");

    public FolderObjectStore Objects { get; }

    public string Home(int worker) => Path.Combine(Homes, $"worker-{worker}");

    public SshRunnerOptions Options(SshWorkersFixture sshd, Func<LaunchPlan, WorkerEndpoint, string>? remoteRoot = null) => new()
    {
        User = Environment.UserName,
        KeySource = new FileSshKeySource(sshd.Workers.ClientKey.PrivateKeyPath),
        Port = null,
        RemoteRoot = remoteRoot ?? ((_, worker) => Home(worker.Index)),
        ResolveUri = uri => uri.StartsWith("gs://bkt/", StringComparison.Ordinal) ? Path.Combine(Bucket, uri["gs://bkt/".Length..]) : uri,
        MetadataUrl = _ => "",
        ConnectTimeout = TimeSpan.FromSeconds(5),
        ConnectRetryDelay = TimeSpan.FromMilliseconds(100),
        ConnectRetryMaxDelay = TimeSpan.FromMilliseconds(400),
        ConnectRetryWindow = TimeSpan.FromSeconds(10),
        StepTimeout = TimeSpan.FromMinutes(2),
        RequirementsCacheUri = "gs://bkt/cache/pip/",
        AgentEnvironment = StandInUv.Environment(Wheels),
    };

    public LaunchPlan Plan(
        IReadOnlyList<int> ports,
        int attempt = 1,
        string script = "work.py",
        IReadOnlyList<string>? args = null,
        IReadOnlyDictionary<string, string>? env = null)
    {
        var environment = new Dictionary<string, string>(env ?? new Dictionary<string, string>())
        {
            ["SPOT_JOB_ID"] = "job",
            ["SPOT_ATTEMPT"] = attempt.ToString(CultureInfo.InvariantCulture),
            ["SPOT_NUM_WORKERS"] = ports.Count.ToString(CultureInfo.InvariantCulture),
            ["SPOT_CHECKPOINT_DIR"] = "gs://bkt/job/ckpt",
        };
        return new LaunchPlan
        {
            JobId = "job",
            Attempt = attempt,
            NodeName = "projects/p/locations/us-central2-b/nodes/job-1",
            Workers = ports.Select((port, i) => new WorkerEndpoint(i, "127.0.0.1", port)).ToList(),
            CodeUri = Code,
            Script = script,
            Args = args ?? [],
            Environment = environment,
            MarkersUri = "gs://bkt/job/markers/",
            LogUri = "gs://bkt/job/logs",
        };
    }

    public string MarkerPath(int attempt, int worker, string kind) =>
        Path.Combine(Bucket, "job", "markers", $"attempt-{attempt}", $"worker-{worker}", kind);

    public string LogPath(int attempt, int worker) => Path.Combine(Bucket, "job", "logs", $"attempt-{attempt}", $"worker-{worker}.log");

    /// <summary>The script most tests run: records its start, prints what it got, imports the wheel on demand.</summary>
    public void WriteWorkScript(string name = "work.py")
    {
        File.WriteAllText(Path.Combine(Code, name), """
            import json, os, sys
            with open(os.path.join(os.path.dirname(os.getcwd()), "starts.txt"), "a") as f:
                f.write(os.environ["SPOT_WORKER_ID"] + "\n")
            print("RESULT " + json.dumps({
                "args": sys.argv[1:],
                "worker": os.environ.get("SPOT_WORKER_ID"),
                "hostile": os.environ.get("HOSTILE"),
                "checkpoint": os.environ.get("SPOT_CHECKPOINT_DIR"),
                "ssh": os.environ.get("SSH_CONNECTION"),
            }))
            if os.environ.get("MODE") == "import":
                import spotjaxdemo
                print("IMPORTED", spotjaxdemo.VALUE)
            """);
    }

    /// <summary>A minimal pure-Python wheel in <see cref="Wheels"/>: a wheel is a zip of the package and its dist-info.</summary>
    public void WriteWheel()
    {
        Directory.CreateDirectory(Wheels);
        var files = new Dictionary<string, string>
        {
            ["spotjaxdemo/__init__.py"] = "VALUE = 42\n",
            ["spotjaxdemo-0.1.dist-info/METADATA"] = "Metadata-Version: 2.1\nName: spotjaxdemo\nVersion: 0.1\n",
            ["spotjaxdemo-0.1.dist-info/WHEEL"] = "Wheel-Version: 1.0\nGenerator: spotjax-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        };
        files["spotjaxdemo-0.1.dist-info/RECORD"] = string.Concat(files.Keys.Select(name => $"{name},,\n")) + "spotjaxdemo-0.1.dist-info/RECORD,,\n";
        using var zip = ZipFile.Open(Path.Combine(Wheels, "spotjaxdemo-0.1-py3-none-any.whl"), ZipArchiveMode.Create);
        foreach (var (name, content) in files)
        {
            using var writer = new StreamWriter(zip.CreateEntry(name).Open());
            writer.Write(content);
        }
    }

    public static Task WaitUntilAsync(Func<bool> condition, string what) => Eventually.TrueAsync(condition, what, Patience);

    public static Task<string> WaitForFileAsync(string path, Func<string, bool>? until = null) => Eventually.FileAsync(path, until, Patience);

    /// <summary>The JSON object the work script printed after <c>RESULT </c>.</summary>
    public async Task<JsonElement> WaitForResultAsync(int attempt, int worker)
    {
        var log = await WaitForFileAsync(LogPath(attempt, worker), text => text.Contains("RESULT ", StringComparison.Ordinal));
        var line = log.Split('\n').First(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
        return JsonDocument.Parse(line["RESULT ".Length..]).RootElement.Clone();
    }

    public void Dispose()
    {
        foreach (var pgid in Directory.EnumerateFiles(Root, "*.pgid", SearchOption.AllDirectories))
        {
            using var kill = Process.Start("kill", ["-s", "KILL", "--", "-" + File.ReadAllText(pgid).Trim()]);
            kill.WaitForExit();
        }

        Objects.DisposeAsync().AsTask().GetAwaiter().GetResult();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A killed agent may still be closing files; a leftover temp folder harms nothing.
        }
    }
}
