using System.Diagnostics;
using System.Formats.Tar;
using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using SpotJax.Core;
using SpotJax.Core.Agent;
using SpotJax.Core.Ports;
using SpotJax.Local.Storage;
using SpotJax.Ssh;

namespace SpotJax.Benchmarks;

/// <summary>
/// Launch time over SSH for 1, 4, 16 and 64 workers, each a private sshd on the loopback: the full
/// sequence (folder, node agent, code bundle, configuration, <c>launch</c> until the script runs) from
/// scratch on every run, done by <see cref="SshWorkerRunner"/> and, as the physical baseline, by plain
/// OpenSSH clients in parallel (<c>sftp -b</c> for the files, then <c>ssh</c> for the command: the same
/// two connections per worker, with the same X25519 key exchange). Medians of a few runs, after one
/// warm-up run of each. Every worker shares this machine's cores, so the sshd, shell and Python work
/// of 64 workers queues on them; the runner's own CPU time (the control plane's share) is printed apart.
/// Usage: dotnet run -c Release --project tests/SpotJax.Benchmarks -- ssh-launch [runs=3]
/// </summary>
public static class SshLaunch
{
    private static readonly int[] Sizes = [1, 4, 16, 64];
    private static int attempt;

    public static async Task<int> RunAsync(string[] args)
    {
        if (SshDaemon.Unavailable() is { } missing)
        {
            await Console.Error.WriteLineAsync(missing);
            return 2;
        }

        var runs = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3;
        var root = Directory.CreateTempSubdirectory("spotjax-ssh-bench-").FullName;
        var bucket = Directory.CreateDirectory(Path.Combine(root, "bucket")).FullName;
        var code = Directory.CreateDirectory(Path.Combine(root, "code")).FullName;
        await File.WriteAllTextAsync(Path.Combine(code, "train.py"), "import os\nprint('worker', os.environ['SPOT_WORKER_ID'])\n");
        await using var workers = await LocalSshWorkers.CreateAsync(Path.Combine(root, "sshd"), CancellationToken.None, emptyHomes: true);
        await using var objects = new FolderObjectStore(bucket, "bench");
        try
        {
            var clock = Stopwatch.StartNew();
            var daemons = await Task.WhenAll(Enumerable.Range(0, Sizes[^1]).Select(i => workers.DaemonAsync(i, CancellationToken.None)));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{daemons.Length} sshd daemons up in {clock.Elapsed.TotalSeconds:0.0}s; {Environment.ProcessorCount} cores; {runs} runs per size"));

            // A TPU VM's python3 is a program; here it may be a version manager's shell shim, whose start-up
            // would be timed once per worker. Both sides run the interpreter it resolves to.
            var python = await InterpreterAsync();
            Console.WriteLine($"interpreter {python}");
            var runner = new SshWorkerRunner(
                new SshRunnerOptions
                {
                    User = Environment.UserName,
                    Python = python,
                    KeySource = new FileSshKeySource(workers.ClientKey.PrivateKeyPath),
                    Port = null,
                    MaxConcurrency = Sizes[^1],
                    RemoteRoot = (plan, worker) => Path.Combine(root, "runs", plan.JobId, string.Create(CultureInfo.InvariantCulture, $"worker-{worker.Index}")),
                    MetadataUrl = _ => "",
                },
                objects);
            var bundle = await PackAsync(code);
            var baseline = new OpenSsh(workers.ClientKey.PrivateKeyPath, Path.Combine(root, "openssh"), bundle, python);

            await TimeSshNetAsync(runner, daemons, 1, bucket, code);
            await baseline.TimeAsync(daemons, 1, root, bucket);
            var rows = new List<(int Workers, double SshNet, double OpenSsh, double Cpu)>();
            foreach (var size in Sizes)
            {
                var sshNet = new List<double>();
                var cpu = new List<double>();
                var openSsh = new List<double>();
                for (var run = 0; run < runs; run++)
                {
                    var before = Process.GetCurrentProcess().TotalProcessorTime;
                    sshNet.Add(await TimeSshNetAsync(runner, daemons, size, bucket, code));
                    cpu.Add((Process.GetCurrentProcess().TotalProcessorTime - before).TotalMilliseconds);
                    openSsh.Add(await baseline.TimeAsync(daemons, size, root, bucket));
                }

                rows.Add((size, Median(sshNet), Median(openSsh), Median(cpu)));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{size} workers: SSH.NET {string.Join(" ", sshNet.Select(v => v.ToString("0", CultureInfo.InvariantCulture)))} ms, OpenSSH {string.Join(" ", openSsh.Select(v => v.ToString("0", CultureInfo.InvariantCulture)))} ms"));
            }

            Console.WriteLine("SSH launch, full sequence per worker from scratch, median milliseconds:");
            Console.WriteLine($"{"workers",8}{"SSH.NET",10}{"OpenSSH",10}{"ratio",8}{"vs 1",8}{"runner CPU",12}");
            foreach (var (size, sshNet, openSsh, cpu) in rows)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{size,8}{sshNet,10:0}{openSsh,10:0}{sshNet / openSsh,8:0.00}{sshNet / rows[0].SshNet,8:0.00}{cpu,12:0}"));
            }

            return 0;
        }
        finally
        {
            await KillStartedScriptsAsync(root);
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task<double> TimeSshNetAsync(SshWorkerRunner runner, SshDaemon[] daemons, int size, string bucket, string code)
    {
        var number = Interlocked.Increment(ref attempt);
        var plan = Plan($"sshnet-{number}", number, daemons, size, bucket, code);
        var clock = Stopwatch.StartNew();
        var results = await runner.LaunchAsync(plan, CancellationToken.None);
        var elapsed = clock.Elapsed.TotalMilliseconds;
        if (results.FirstOrDefault(r => !r.Succeeded) is { } failed)
        {
            throw new InvalidOperationException($"worker {failed.Index} failed: {failed.StderrTail}");
        }

        return elapsed;
    }

    private static LaunchPlan Plan(string jobId, int number, SshDaemon[] daemons, int size, string bucket, string code) => new()
    {
        JobId = jobId,
        Attempt = number,
        NodeName = $"projects/bench/locations/us-central2-b/nodes/{jobId}",
        Workers = daemons.Take(size).Select((d, i) => new WorkerEndpoint(i, "127.0.0.1", d.Port)).ToList(),
        CodeUri = code,
        Script = "train.py",
        Args = [],
        Environment = new Dictionary<string, string> { ["SPOT_JOB_ID"] = jobId },
        MarkersUri = Path.Combine(bucket, jobId, "markers"),
        LogUri = Path.Combine(bucket, jobId, "logs"),
    };

    private static async Task<(byte[] Content, string Name)> PackAsync(string folder)
    {
        using var buffer = new MemoryStream();
        await using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        {
            await TarFile.CreateFromDirectoryAsync(folder, gzip, includeBaseDirectory: false);
        }

        var content = buffer.ToArray();
        return (content, $"bundle-{Convert.ToHexStringLower(SHA256.HashData(content))}.tar.gz");
    }

    private static async Task<string> InterpreterAsync()
    {
        var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("import sys; print(sys.executable)");
        using var process = Process.Start(start)!;
        var path = (await process.StandardOutput.ReadToEndAsync()).Trim();
        await process.WaitForExitAsync();
        return process.ExitCode == 0 && path.Length > 0 ? path : "python3";
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static async Task KillStartedScriptsAsync(string root)
    {
        foreach (var pgid in Directory.EnumerateFiles(Path.Combine(root, "runs"), "*.pgid", SearchOption.AllDirectories))
        {
            // Most scripts have ended by now; kill then says so on stderr, which is not worth showing.
            var start = new ProcessStartInfo("kill") { RedirectStandardError = true };
            foreach (var argument in new[] { "-s", "KILL", "--", "-" + (await File.ReadAllTextAsync(pgid)).Trim() })
            {
                start.ArgumentList.Add(argument);
            }

            using var kill = Process.Start(start)!;
            await kill.StandardError.ReadToEndAsync();
            await kill.WaitForExitAsync();
        }
    }

    /// <summary>The same sequence with OpenSSH's own clients, one pair of processes per worker, all at once.</summary>
    private sealed class OpenSsh(string key, string scratch, (byte[] Content, string Name) bundle, string python)
    {
        // The runner's key exchange (X25519 first), so that both sides of the comparison do the same protocol work.
        private static readonly string[] Common =
        [
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
            "-o", "KexAlgorithms=curve25519-sha256",
        ];

        public async Task<double> TimeAsync(SshDaemon[] daemons, int size, string root, string bucket)
        {
            var number = Interlocked.Increment(ref attempt);
            var jobId = $"openssh-{number}";
            var local = Directory.CreateDirectory(Path.Combine(scratch, jobId)).FullName;
            var agent = Path.Combine(local, NodeAgent.FileName);
            var bundlePath = Path.Combine(local, bundle.Name);
            await File.WriteAllBytesAsync(agent, NodeAgent.Source());
            await File.WriteAllBytesAsync(bundlePath, bundle.Content);
            var prepared = new List<(int Port, string Batch, string Command)>();
            for (var i = 0; i < size; i++)
            {
                var home = Path.Combine(root, "runs", jobId, string.Create(CultureInfo.InvariantCulture, $"worker-{i}"));
                var config = Path.Combine(local, string.Create(CultureInfo.InvariantCulture, $"worker-{i}.json"));
                await File.WriteAllBytesAsync(config, JsonSerializer.SerializeToUtf8Bytes(Config(jobId, number, i, size, $"{home}/{bundle.Name}", bucket), SpotJaxJson.Options));
                var batch = Path.Combine(local, string.Create(CultureInfo.InvariantCulture, $"worker-{i}.sftp"));
                var parents = new List<string>();
                for (var folder = home; folder != root; folder = Path.GetDirectoryName(folder)!)
                {
                    parents.Insert(0, $"-mkdir \"{folder}\"");
                }

                await File.WriteAllLinesAsync(batch, [
                    .. parents,
                    $"put \"{agent}\" \"{home}/{NodeAgent.FileName}\"",
                    $"put \"{bundlePath}\" \"{home}/{bundle.Name}\"",
                    $"put \"{config}\" \"{home}/attempt-{number}.json\"",
                ]);
                var command = $"cd {ShellQuote.Word(home)} && {ShellQuote.Command([python, NodeAgent.FileName, "launch", $"attempt-{number}.json"])}";
                prepared.Add((daemons[i].Port, batch, command));
            }

            var clock = Stopwatch.StartNew();
            await Task.WhenAll(prepared.Select(async p =>
            {
                await RunAsync("sftp", [.. Common, "-i", key, "-P", p.Port.ToString(CultureInfo.InvariantCulture), "-b", p.Batch, $"{Environment.UserName}@127.0.0.1"]);
                await RunAsync("ssh", [.. Common, "-i", key, "-p", p.Port.ToString(CultureInfo.InvariantCulture), $"{Environment.UserName}@127.0.0.1", p.Command]);
            }));
            return clock.Elapsed.TotalMilliseconds;
        }

        private static AgentConfig Config(string jobId, int number, int worker, int workers, string codeUri, string bucket) => new()
        {
            JobId = jobId,
            Attempt = number,
            WorkerId = worker,
            NumWorkers = workers,
            CodeUri = codeUri,
            Script = "train.py",
            Args = [],
            Env = new Dictionary<string, string> { ["SPOT_JOB_ID"] = jobId, ["SPOT_WORKER_ID"] = worker.ToString(CultureInfo.InvariantCulture) },
            MarkersUri = string.Create(CultureInfo.InvariantCulture, $"{bucket}/{jobId}/markers/attempt-{number}/worker-{worker}"),
            LogUri = BucketLayout.LogObject($"{bucket}/{jobId}/logs", number, worker),
            PrepareLogUri = BucketLayout.PrepareLogObject($"{bucket}/{jobId}/logs", number, worker),
            MetadataUrl = "",
        };

        private static async Task RunAsync(string program, string[] arguments)
        {
            var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            using var process = Process.Start(start)!;
            process.StandardInput.Close();
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            await stdout;
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"{program} exited {process.ExitCode}: {await stderr}");
            }
        }
    }
}
