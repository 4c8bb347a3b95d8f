using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using SpotJax.Core.Ports;
using SpotJax.Local.Workers;

namespace SpotJax.Benchmarks;

/// <summary>
/// Preparation time of one local-mode worker with a cold and with a warm wheel cache in the bucket:
/// from the launch to the script's first line, for a requirements file of several local wheels
/// installed by the stand-in uv of <c>tests/tools/uv</c> (PyPI cannot be reached here). Every run
/// is a fresh node (new venv); a cold run finds no archive in the bucket and stores one, a warm
/// run installs offline from the archive the cold run before it stored.
/// Usage: dotnet run -c Release --project tests/SpotJax.Benchmarks -- prepare-cache [runs=3] [wheels=6]
/// </summary>
public static class PrepareCache
{
    public static async Task<int> RunAsync(string[] args)
    {
        var runs = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3;
        var packages = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 6;
        var root = Directory.CreateTempSubdirectory("spotjax-prepare-cache-").FullName;
        try
        {
            var wheelhouse = Path.Combine(root, "wheelhouse");
            var code = Directory.CreateDirectory(Path.Combine(root, "code")).FullName;
            var names = Enumerable.Range(0, packages).Select(i => string.Create(CultureInfo.InvariantCulture, $"benchpkg{i}")).ToList();
            foreach (var name in names)
            {
                WriteWheel(wheelhouse, name);
            }

            await File.WriteAllLinesAsync(Path.Combine(code, "requirements.txt"), names.Select(n => $"{n}==0.1"));
            await File.WriteAllTextAsync(Path.Combine(code, "work.py"), $"import {string.Join(", ", names)}\nprint('READY')\n");

            var cold = new List<double>();
            var warm = new List<double>();
            for (var run = 0; run < runs; run++)
            {
                // Each pair shares one bucket: the cold run stores the archive the warm run uses.
                var bucket = Path.Combine(root, string.Create(CultureInfo.InvariantCulture, $"bucket-{run}"));
                cold.Add(await PrepareAsync(root, bucket, code, wheelhouse, string.Create(CultureInfo.InvariantCulture, $"cold-{run}")));
                warm.Add(await PrepareAsync(root, bucket, code, wheelhouse, string.Create(CultureInfo.InvariantCulture, $"warm-{run}")));
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Preparation in local mode (fresh node: uv, venv, {packages} wheels from requirements.txt through the stand-in uv, to the script's first line), {runs} runs, {Environment.ProcessorCount} cores, seconds:"));
            Print("cold wheel cache", cold);
            Print("warm wheel cache", warm);
            return 0;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static void Print(string label, List<double> seconds)
    {
        var sorted = seconds.Order().ToList();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {label}: median {sorted[sorted.Count / 2]:0.00}  min {sorted[0]:0.00}  max {sorted[^1]:0.00}  ({string.Join(", ", seconds.Select(s => s.ToString("0.00", CultureInfo.InvariantCulture)))})"));
    }

    private static async Task<double> PrepareAsync(string root, string bucket, string code, string wheelhouse, string name)
    {
        var nodes = Path.Combine(root, "nodes-" + name);
        var runner = new LocalWorkerRunner(new LocalWorkerOptions
        {
            NodesRoot = nodes,
            ResolveUri = uri => uri.StartsWith("gs://bkt/", StringComparison.Ordinal) ? Path.Combine(bucket, uri["gs://bkt/".Length..]) : uri,
            MetadataUrl = (_, _) => "",
            RequirementsCacheUri = "gs://bkt/cache/pip/",
            ExtraEnvironment = new Dictionary<string, string>
            {
                ["PATH"] = $"{Path.Combine(RepositoryRoot(), "tests", "tools", "uv")}{Path.PathSeparator}{Environment.GetEnvironmentVariable("PATH")}",
                ["SPOTJAX_UV_WHEELHOUSE"] = wheelhouse,
            },
            StepTimeout = TimeSpan.FromMinutes(10),
        });
        var plan = new LaunchPlan
        {
            JobId = name,
            Attempt = 1,
            NodeName = $"projects/p/locations/us-central2-b/nodes/{name}",
            Workers = [new WorkerEndpoint(0, "10.0.0.2", 8476)],
            CodeUri = code,
            Script = "work.py",
            Args = [],
            Environment = new Dictionary<string, string> { ["SPOT_JOB_ID"] = name },
            MarkersUri = $"gs://bkt/{name}/markers/",
            LogUri = $"gs://bkt/{name}/logs",
        };
        var log = Path.Combine(bucket, name, "logs", "attempt-1", "worker-0.log");
        var watch = Stopwatch.StartNew();
        var results = await runner.LaunchAsync(plan, CancellationToken.None);
        if (!results[0].Succeeded)
        {
            throw new InvalidOperationException($"{name}: launch failed: {results[0].StderrTail}");
        }

        // The script's first line, not the launch's return: wherever the agent prepares, this is when the script runs.
        while (!File.Exists(log) || !(await File.ReadAllTextAsync(log)).Contains("READY", StringComparison.Ordinal))
        {
            if (watch.Elapsed > TimeSpan.FromMinutes(10))
            {
                throw new TimeoutException($"{name}: the script did not start within 10 minutes");
            }

            await Task.Delay(20);
        }

        return watch.Elapsed.TotalSeconds;
    }

    private static void WriteWheel(string folder, string name)
    {
        Directory.CreateDirectory(folder);
        var files = new Dictionary<string, string>
        {
            [$"{name}/__init__.py"] = "VALUE = 1\n",
            [$"{name}-0.1.dist-info/METADATA"] = $"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n",
            [$"{name}-0.1.dist-info/WHEEL"] = "Wheel-Version: 1.0\nGenerator: spotjax-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        };
        files[$"{name}-0.1.dist-info/RECORD"] = string.Concat(files.Keys.Select(n => $"{n},,\n")) + $"{name}-0.1.dist-info/RECORD,,\n";
        using var zip = ZipFile.Open(Path.Combine(folder, $"{name}-0.1-py3-none-any.whl"), ZipArchiveMode.Create);
        foreach (var (entry, content) in files)
        {
            using var writer = new StreamWriter(zip.CreateEntry(entry).Open());
            writer.Write(content);
        }
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "SpotJax.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? Directory.GetCurrentDirectory();
    }
}
