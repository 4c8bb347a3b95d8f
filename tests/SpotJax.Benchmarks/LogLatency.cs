using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using SpotJax.Core;
using SpotJax.Core.Agent;
using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Functions.Local;
using SpotJax.Local.State;

namespace SpotJax.Benchmarks;

/// <summary>
/// Log line latency: from a script printing a line to <c>spotjax logs JOB --follow</c> printing it.
/// The node agent runs the script with a gs:// log, so the line goes the way it goes on a TPU VM: into
/// the agent's log file, up with its next upload (the agent's cadence), into the bucket, and to the
/// follower at its next poll (every second). Local form: the <c>spotjax</c> program follows a job of a
/// local state folder (<c>--local --state-dir</c>), and a loopback stand-in for the metadata server's
/// token and the Cloud Storage media upload replaces the log object in that state's bucket folder
/// whole on each upload, as Cloud Storage replaces an object. The script prints its lines 200-500 ms
/// apart with its wall clock in each; the follower's arrival time minus that is the latency.
/// Usage: dotnet run -c Release --project tests/SpotJax.Benchmarks -- log-latency [lines=40]
/// </summary>
public static class LogLatency
{
    private const string Token = "bench-token";

    public static async Task<int> RunAsync(string[] args)
    {
        var lines = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 40;
        var root = Directory.CreateTempSubdirectory("spotjax-log-latency-").FullName;
        var state = Directory.CreateDirectory(Path.Combine(root, "state")).FullName;
        var bucket = new LocalControlPlaneOptions { Root = state }.Bucket;
        var bucketDir = Directory.CreateDirectory(Path.Combine(state, "bucket")).FullName;
        var jobId = await StoreRunningJobAsync(Path.Combine(state, "jobs.db"));
        var cli = await BuildAsync(Path.Combine(ColdStart.RepositoryRoot(), "cli", "SpotJax.Cli"), Path.Combine(root, "cli"));

        using var google = new StandIn(bucketDir);
        var home = Directory.CreateDirectory(Path.Combine(root, "node")).FullName;
        var code = Directory.CreateDirectory(Path.Combine(home, "code")).FullName;
        await File.WriteAllTextAsync(Path.Combine(code, "talk.py"), """
            import random, sys, time
            for i in range(int(sys.argv[1])):
                print("LATENCY", i, "{:.6f}".format(time.time()), flush=True)
                time.sleep(random.uniform(0.2, 0.5))
            while True:
                time.sleep(1)
            """);
        await File.WriteAllBytesAsync(Path.Combine(home, NodeAgent.FileName), NodeAgent.Source());
        var config = new AgentConfig
        {
            JobId = jobId,
            Attempt = 1,
            WorkerId = 0,
            NumWorkers = 1,
            CodeUri = code,
            Script = "talk.py",
            Args = [lines.ToString(CultureInfo.InvariantCulture)],
            Env = new Dictionary<string, string>(),
            MarkersUri = BucketLayout.GsUri(bucket, $"{jobId}/markers/attempt-1/worker-0"),
            LogUri = BucketLayout.LogObject(BucketLayout.GsUri(bucket, BucketLayout.LogPrefix(jobId)), 1, 0),
            PrepareLogUri = BucketLayout.PrepareLogObject(BucketLayout.GsUri(bucket, BucketLayout.LogPrefix(jobId)), 1, 0),
            MetadataUrl = google.Root + "/computeMetadata/v1/",
        };
        await File.WriteAllBytesAsync(Path.Combine(home, "attempt-1.json"), JsonSerializer.SerializeToUtf8Bytes(config, SpotJaxJson.Options));

        var latencies = new List<double>();
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var follower = Start("dotnet", root, [Path.Combine(cli, "spotjax.dll"), "logs", jobId, "--local", "--state-dir", state, "--follow"]);
        follower.OutputDataReceived += (_, e) =>
        {
            var arrived = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
            if (e.Data?.Split(' ') is ["LATENCY", _, var printed])
            {
                lock (latencies)
                {
                    latencies.Add((arrived - double.Parse(printed, CultureInfo.InvariantCulture)) * 1000);
                    if (latencies.Count == lines)
                    {
                        all.TrySetResult();
                    }
                }
            }
        };
        follower.BeginOutputReadLine();
        follower.BeginErrorReadLine();

        using var agent = Start("python3", home, [NodeAgent.FileName, "run", "attempt-1.json"], new Dictionary<string, string> { ["SPOTJAX_STORAGE_BASE"] = google.Root });
        agent.BeginOutputReadLine();
        agent.BeginErrorReadLine();
        try
        {
            await all.Task.WaitAsync(TimeSpan.FromSeconds(lines * 0.5 + 60));
        }
        finally
        {
            // SIGTERM: the agent ends its script and uploads the log a last time.
            using (var term = Process.Start("kill", ["-TERM", agent.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await term.WaitForExitAsync();
            }

            await agent.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
            follower.Kill();
            await follower.WaitForExitAsync();
        }

        var sorted = latencies.Order().ToArray();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Log line latency, print to `spotjax logs --follow` (local form, gs:// log through the agent's uploads), {sorted.Length} lines, {google.Uploads} uploads ({Environment.ProcessorCount} cores), milliseconds:"));
        Console.WriteLine($"{"p50",10}{"p90",10}{"min",10}{"max",10}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{Percentile(sorted, 0.5),10:0}{Percentile(sorted, 0.9),10:0}{sorted[0],10:0}{sorted[^1],10:0}"));
        Directory.Delete(root, recursive: true);
        return 0;
    }

    /// <summary>A Release build of a project into a folder of its own (publishing for a runtime would rewrite the lock files).</summary>
    private static async Task<string> BuildAsync(string project, string output)
    {
        using var build = Process.Start(new ProcessStartInfo("dotnet", ["build", project, "-c", "Release", "-o", output]) { RedirectStandardOutput = true })!;
        var log = await build.StandardOutput.ReadToEndAsync();
        await build.WaitForExitAsync();
        return build.ExitCode == 0 ? output : throw new InvalidOperationException($"build of {project} failed:\n{log}");
    }

    private static double Percentile(double[] sorted, double p) => sorted[(int)Math.Min(sorted.Length - 1, Math.Ceiling(p * sorted.Length) - 1)];

    /// <summary>A job as the control plane stores it once its script runs on its one worker.</summary>
    private static async Task<string> StoreRunningJobAsync(string database)
    {
        using var store = new SqliteJobStore(database);
        var spec = JobDocument.Parse("""{"name": "latency", "tpu": {"type": "v4-8", "zone": "us-central2-b"}, "code": "gs://bench/code/0.tar.gz", "script": "talk.py"}""");
        var jobId = JobId.From(spec.Name, "client:" + Guid.NewGuid().ToString("N"));
        var now = DateTimeOffset.UtcNow;
        var (job, entry) = JobLifecycle.Submit(jobId, "client:bench", spec, now);
        if (!await store.TryCreateAsync(job, entry, CancellationToken.None))
        {
            throw new InvalidOperationException($"job {jobId} exists");
        }

        foreach (var step in new Func<Job, Decision>[]
        {
            j => JobLifecycle.StartProvisioning(j, 1, now),
            j => JobLifecycle.NodesReady(j, 1, 1, now, now.AddMinutes(35)),
            j => JobLifecycle.AgentsStarted(j, 1, now),
            j => JobLifecycle.WorkerPrepared(j, 1, 0, now),
        })
        {
            var current = (await store.GetAsync(jobId, CancellationToken.None))!;
            var decision = step(current);
            if (decision.Verdict != Verdict.Apply || !await store.TryUpdateAsync(decision.Job, current.Revision, decision.Entry, CancellationToken.None))
            {
                throw new InvalidOperationException($"job {jobId}: {decision.Reason}");
            }
        }

        return jobId;
    }

    private static Process Start(string program, string directory, string[] args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["HOME"] = directory;
        start.Environment["NO_COLOR"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        return Process.Start(start)!;
    }

    /// <summary>
    /// The metadata server's token and notice keys, and the Cloud Storage media upload writing each
    /// object whole into the bucket folder (a new file moved over the old one: a reader sees the
    /// previous upload or this one, never a mix).
    /// </summary>
    private sealed class StandIn : IDisposable
    {
        private readonly HttpListener listener = new();
        private readonly string bucketDir;
        private int uploads;

        public StandIn(string bucketDir)
        {
            this.bucketDir = bucketDir;
            Root = $"http://127.0.0.1:{LoopbackPorts.Choose()}";
            listener.Prefixes.Add(Root + "/");
            listener.Start();
            _ = ServeAsync();
        }

        public string Root { get; }

        public int Uploads => Volatile.Read(ref uploads);

        public void Dispose() => listener.Close();

        private async Task ServeAsync()
        {
            while (listener.IsListening)
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

                try
                {
                    var body = await AnswerAsync(context.Request);
                    await context.Response.OutputStream.WriteAsync(body);
                    context.Response.Close();
                }
                catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
                {
                    context.Response.Abort();
                }
            }
        }

        private async Task<byte[]> AnswerAsync(HttpListenerRequest request)
        {
            var path = request.Url!.AbsolutePath;
            if (path == "/computeMetadata/v1/instance/service-accounts/default/token")
            {
                return JsonSerializer.SerializeToUtf8Bytes(new { access_token = Token, expires_in = 3599, token_type = "Bearer" });
            }

            if (path.StartsWith("/computeMetadata/v1/", StringComparison.Ordinal))
            {
                return Encoding.ASCII.GetBytes(path.EndsWith("maintenance-event", StringComparison.Ordinal) ? "NONE" : "FALSE");
            }

            var name = System.Web.HttpUtility.ParseQueryString(request.Url.Query)["name"];
            if (request.HttpMethod == "POST" && path.StartsWith("/upload/storage/v1/b/", StringComparison.Ordinal) && name is not null)
            {
                var target = Path.Combine(bucketDir, name);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                var partial = target + ".uploading";
                await using (var file = File.Create(partial))
                {
                    await request.InputStream.CopyToAsync(file);
                }

                File.Move(partial, target, overwrite: true);
                Interlocked.Increment(ref uploads);
                return "{}"u8.ToArray();
            }

            return [];
        }
    }
}
