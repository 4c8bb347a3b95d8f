using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SpotJax.Contracts;
using SpotJax.Core.Ports;
using SpotJax.Local.Workers;

namespace SpotJax.Local.Tests.Workers;

/// <summary>
/// One test's private world: a local bucket that <c>gs://bkt/</c> maps to, a nodes root, a code
/// folder, and the launch plan of node <c>job-1</c> in <c>us-central2-b</c>. Disposing it kills
/// every process group an agent published and deletes the folder.
/// </summary>
internal sealed class WorkerSandbox : IDisposable
{
    public const string Zone = "us-central2-b";
    public const string NodeId = "job-1";
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    public WorkerSandbox()
    {
        Root = Path.Combine(Path.GetTempPath(), "spotjax-workers-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Bucket);
        Directory.CreateDirectory(Nodes);
        Directory.CreateDirectory(Code);
    }

    public string Root { get; }

    public string Bucket => Path.Combine(Root, "bucket");

    public string Nodes => Path.Combine(Root, "nodes");

    public string Code => Path.Combine(Root, "code");

    public LocalWorkerOptions Options(string metadataUrl = "", IReadOnlyDictionary<string, string>? extraEnvironment = null) => new()
    {
        NodesRoot = Nodes,
        ResolveUri = uri => uri.StartsWith("gs://bkt/", StringComparison.Ordinal) ? Path.Combine(Bucket, uri["gs://bkt/".Length..]) : uri,
        MetadataUrl = (_, _) => metadataUrl,
        ExtraEnvironment = extraEnvironment,
        StepTimeout = TimeSpan.FromMinutes(2),
    };

    public LaunchPlan Plan(
        int attempt = 1,
        int workers = 2,
        string script = "work.py",
        IReadOnlyList<string>? args = null,
        IReadOnlyDictionary<string, string>? env = null,
        string? codeUri = null)
    {
        var environment = new Dictionary<string, string>(env ?? new Dictionary<string, string>())
        {
            ["SPOT_JOB_ID"] = "job",
            ["SPOT_ATTEMPT"] = attempt.ToString(CultureInfo.InvariantCulture),
            ["SPOT_NUM_WORKERS"] = workers.ToString(CultureInfo.InvariantCulture),
        };
        return new LaunchPlan
        {
            JobId = "job",
            Attempt = attempt,
            NodeName = $"projects/p/locations/{Zone}/nodes/{NodeId}",
            Workers = Enumerable.Range(0, workers).Select(i => new WorkerEndpoint(i, $"10.0.0.{i + 2}", 8476)).ToList(),
            CodeUri = codeUri ?? Code,
            Script = script,
            Args = args ?? [],
            Environment = environment,
            MarkersUri = "gs://bkt/job/markers/",
            LogUri = "gs://bkt/job/logs",
        };
    }

    public string Home(int worker) => LocalWorkerRunner.WorkerHome(Nodes, Zone, NodeId, worker);

    public string MarkerPath(int attempt, int worker, string kind) =>
        Path.Combine(Bucket, "job", "markers", $"attempt-{attempt}", $"worker-{worker}", kind);

    public string LogPath(int attempt, int worker) => Path.Combine(Bucket, "job", "logs", $"attempt-{attempt}", $"worker-{worker}.log");

    public string PrepareLogPath(int attempt, int worker) => Path.Combine(Bucket, "job", "logs", $"attempt-{attempt}", $"worker-{worker}.prepare.log");

    /// <summary>Writes the test script used by most tests: it records its start, prints what it got, then acts on MODE.</summary>
    public void WriteWorkScript()
    {
        File.WriteAllText(Path.Combine(Code, "work.py"), """
            import json, os, sys, time
            starts = os.environ.get("STARTS_FILE")
            if starts:
                with open(starts, "a") as f:
                    f.write(os.environ["SPOT_WORKER_ID"] + "\n")
            print("RESULT " + json.dumps({
                "args": sys.argv[1:],
                "worker": os.environ.get("SPOT_WORKER_ID"),
                "workers": os.environ.get("SPOT_NUM_WORKERS"),
                "hostile": os.environ.get("HOSTILE"),
                "checkpoint": os.environ.get("SPOT_CHECKPOINT_DIR"),
                "elsewhere": os.environ.get("ELSEWHERE"),
            }))
            mode = os.environ.get("MODE", "exit")
            if mode == "import":
                import spotjaxdemo
                print("IMPORTED", spotjaxdemo.VALUE)
            if mode == "wait":
                print("WAITING")
                while True:
                    time.sleep(0.1)
            sys.exit(int(os.environ.get("EXIT_CODE", "0")))
            """);
    }

    public static Task WaitUntilAsync(Func<bool> condition, string what) => Eventually.TrueAsync(condition, what, Patience);

    public static Task<string> WaitForFileAsync(string path, Func<string, bool>? until = null) => Eventually.FileAsync(path, until, Patience);

    public async Task<JsonElement> WaitForMarkerAsync(int attempt, int worker, string kind)
    {
        var text = await WaitForFileAsync(MarkerPath(attempt, worker, kind));
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>The JSON object the work script printed after <c>RESULT </c>.</summary>
    public async Task<JsonElement> WaitForResultAsync(int attempt, int worker)
    {
        var log = await WaitForFileAsync(LogPath(attempt, worker), text => text.Contains("RESULT ", StringComparison.Ordinal));
        var line = log.Split('\n').First(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
        return JsonDocument.Parse(line["RESULT ".Length..]).RootElement.Clone();
    }

    public int ProcessGroup(int attempt, int worker) =>
        int.Parse(File.ReadAllText(Path.Combine(Home(worker), $"attempt-{attempt}.pgid")).Trim(), CultureInfo.InvariantCulture);

    public static Task SignalGroupAsync(int processGroup, string signal) =>
        SignalAsync("-" + processGroup.ToString(CultureInfo.InvariantCulture), signal);

    /// <summary>Sends a signal with kill(1): a pid, or minus a process group id.</summary>
    public static async Task SignalAsync(string target, string signal)
    {
        var start = new ProcessStartInfo("kill") { RedirectStandardError = true };
        foreach (var argument in new[] { "-s", signal, "--", target })
        {
            start.ArgumentList.Add(argument);
        }

        using var kill = Process.Start(start)!;
        await kill.WaitForExitAsync();
    }

    public void Dispose()
    {
        foreach (var pgid in Directory.EnumerateFiles(Nodes, "*.pgid", SearchOption.AllDirectories))
        {
            SignalGroupAsync(int.Parse(File.ReadAllText(pgid).Trim(), CultureInfo.InvariantCulture), "KILL").GetAwaiter().GetResult();
        }

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
