using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using SpotJax.Contracts;
using SpotJax.Local.Workers;

namespace SpotJax.Local.Tests.Workers;

public sealed class LocalWorkerRunnerPrepareTests
{
    [Fact]
    public async Task LaunchAsync_TwoAttemptsFromOneTarball_RunsSetupScriptOnce()
    {
        using var sandbox = new WorkerSandbox();
        sandbox.WriteWorkScript();
        File.WriteAllText(Path.Combine(sandbox.Code, "spotjax_setup.sh"), "echo ran >> ../setup-runs.txt\n");
        var tarball = Path.Combine(sandbox.Bucket, "code", "bundle.tar.gz");
        WriteTarball(tarball, sandbox.Code);
        var runner = new LocalWorkerRunner(sandbox.Options());

        var first = await runner.LaunchAsync(sandbox.Plan(attempt: 1, workers: 1, codeUri: "gs://bkt/code/bundle.tar.gz"), CancellationToken.None);
        await sandbox.WaitForMarkerAsync(1, 0, "exited");
        var second = await runner.LaunchAsync(sandbox.Plan(attempt: 2, workers: 1, codeUri: "gs://bkt/code/bundle.tar.gz"), CancellationToken.None);
        var exited = await sandbox.WaitForMarkerAsync(2, 0, "exited");

        Assert.True(first[0].Succeeded, first[0].StderrTail);
        Assert.True(second[0].Succeeded, second[0].StderrTail);
        Assert.Equal(0, exited.GetProperty("exitCode").GetInt32());
        Assert.Equal(["ran"], await File.ReadAllLinesAsync(Path.Combine(sandbox.Home(0), "setup-runs.txt")));
    }

    [Fact]
    public async Task LaunchAsync_FailingSetupScript_PrepareFailedMarkerNamesTheStepWithTheLogTail()
    {
        using var sandbox = new WorkerSandbox();
        sandbox.WriteWorkScript();
        File.WriteAllText(Path.Combine(sandbox.Code, "spotax_setup.sh"), "for i in $(seq 1 40); do echo \"installing part $i\"; done\necho 'no compiler here' >&2\nexit 4\n");
        var runner = new LocalWorkerRunner(sandbox.Options());

        var results = await runner.LaunchAsync(sandbox.Plan(workers: 1), CancellationToken.None);

        Assert.True(results[0].Succeeded, results[0].StderrTail);
        var failed = await sandbox.WaitForMarkerAsync(1, 0, "prepare-failed");
        Assert.Equal("setup", failed.GetProperty("step").GetString());
        Assert.Contains("exited with code 4", failed.GetProperty("message").GetString(), StringComparison.Ordinal);
        var tail = failed.GetProperty("outputTail").GetString()!;
        Assert.Contains("no compiler here", tail, StringComparison.Ordinal);
        Assert.DoesNotContain("installing part 1\n", tail, StringComparison.Ordinal);

        // The whole preparation log is in the bucket, beside the worker's output log.
        var log = await File.ReadAllTextAsync(sandbox.PrepareLogPath(1, 0));
        Assert.Contains("installing part 1\n", log, StringComparison.Ordinal);
        Assert.Contains("no compiler here", log, StringComparison.Ordinal);
        Assert.False(File.Exists(sandbox.MarkerPath(1, 0, "exited")));
        Assert.False(File.Exists(sandbox.MarkerPath(1, 0, "prepared")));
        Assert.False(File.Exists(sandbox.LogPath(1, 0)));
    }

    [Fact]
    public async Task LaunchAsync_SetupFailedOnTheFirstNode_ASecondAttemptOnAFreshNodePreparesAgain()
    {
        using var sandbox = new WorkerSandbox();
        sandbox.WriteWorkScript();
        var runs = Path.Combine(sandbox.Root, "setup-runs.txt");
        File.WriteAllText(Path.Combine(sandbox.Code, "spotjax_setup.sh"), $"echo ran >> {runs}\n[ $(wc -l < {runs}) -gt 1 ] || exit 2\n");
        var runner = new LocalWorkerRunner(sandbox.Options());

        await runner.LaunchAsync(sandbox.Plan(attempt: 1, workers: 1), CancellationToken.None);
        Assert.Equal("setup", (await sandbox.WaitForMarkerAsync(1, 0, "prepare-failed")).GetProperty("step").GetString());
        var second = sandbox.Plan(attempt: 2, workers: 1) with { NodeName = $"projects/p/locations/{WorkerSandbox.Zone}/nodes/job-2" };
        await runner.LaunchAsync(second, CancellationToken.None);

        await sandbox.WaitForMarkerAsync(2, 0, "prepared");
        Assert.Equal(0, (await sandbox.WaitForMarkerAsync(2, 0, "exited")).GetProperty("exitCode").GetInt32());
        Assert.Equal(["ran", "ran"], await File.ReadAllLinesAsync(runs));
        Assert.Contains("setup: bash spotjax_setup.sh", await File.ReadAllTextAsync(sandbox.PrepareLogPath(2, 0)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task StopAsync_WhileTheSetupScriptRuns_KillsItsProcessGroupAndWritesPreemptedThenExited()
    {
        using var sandbox = new WorkerSandbox();
        sandbox.WriteWorkScript();
        var child = Path.Combine(sandbox.Root, "child.pid");
        // The setup script leaves a child of its own behind: the whole group must go.
        File.WriteAllText(Path.Combine(sandbox.Code, "spotjax_setup.sh"), $"sleep 1000 &\necho $! > {child}.partial\nmv {child}.partial {child}\nwait\n");
        var runner = new LocalWorkerRunner(sandbox.Options());
        var plan = sandbox.Plan(workers: 1);
        await runner.LaunchAsync(plan, CancellationToken.None);
        var pid = int.Parse((await WorkerSandbox.WaitForFileAsync(child)).Trim(), System.Globalization.CultureInfo.InvariantCulture);

        var stopped = await runner.StopAsync(plan, CancellationToken.None);

        Assert.True(stopped[0].Succeeded, stopped[0].StderrTail);
        var exited = await sandbox.WaitForMarkerAsync(1, 0, "exited");
        Assert.True(exited.GetProperty("preemptionNotice").GetBoolean());
        Assert.Equal("SIGTERM", (await sandbox.WaitForMarkerAsync(1, 0, "preempted")).GetProperty("reason").GetString());
        Assert.False(File.Exists(sandbox.MarkerPath(1, 0, "prepared")));
        Assert.False(File.Exists(sandbox.MarkerPath(1, 0, "prepare-failed")));
        await WorkerSandbox.WaitUntilAsync(() => IsGone(pid), "the setup script's child to be killed");
        Assert.False(File.Exists(sandbox.LogPath(1, 0)) && File.ReadAllText(sandbox.LogPath(1, 0)).Contains("RESULT", StringComparison.Ordinal));
    }

    /// <summary>The process has ended: no longer there, or a zombie nobody reaped yet.</summary>
    private static bool IsGone(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return true;
        }
    }

    [Fact]
    public async Task LaunchAsync_RequirementsFromFindLinks_ScriptImportsPackage()
    {
        using var sandbox = new WorkerSandbox();
        sandbox.WriteWorkScript();
        var wheels = Path.Combine(sandbox.Root, "wheels");
        WriteWheel(wheels);
        File.WriteAllText(Path.Combine(sandbox.Code, "requirements.txt"), "spotjaxdemo==0.1\n");
        var options = sandbox.Options(extraEnvironment: StandInUv.Environment(wheels));
        var runner = new LocalWorkerRunner(options);

        var results = await runner.LaunchAsync(sandbox.Plan(workers: 1, env: new Dictionary<string, string> { ["MODE"] = "import" }), CancellationToken.None);

        Assert.True(results[0].Succeeded, results[0].StderrTail);
        var exited = await sandbox.WaitForMarkerAsync(1, 0, "exited");
        Assert.Equal(0, exited.GetProperty("exitCode").GetInt32());
        Assert.Contains("IMPORTED 42", await File.ReadAllTextAsync(sandbox.LogPath(1, 0)), StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(sandbox.Home(0), "venv", "bin", "python")));
    }

    [Fact]
    public async Task LaunchAsync_TarballMemberEscapes_RefusesTheBundle()
    {
        using var sandbox = new WorkerSandbox();
        var tarball = Path.Combine(sandbox.Root, "evil.tgz");
        using (var file = File.Create(tarball))
        using (var gzip = new GZipStream(file, CompressionLevel.Fastest))
        using (var tar = new TarWriter(gzip))
        {
            tar.WriteEntry(Entry("work.py", "print('hi')\n"));
            tar.WriteEntry(Entry("../escape", "owned\n"));
        }

        var runner = new LocalWorkerRunner(sandbox.Options());

        var results = await runner.LaunchAsync(sandbox.Plan(workers: 1, codeUri: tarball), CancellationToken.None);

        Assert.True(results[0].Succeeded, results[0].StderrTail);
        var failed = await sandbox.WaitForMarkerAsync(1, 0, "prepare-failed");
        Assert.Equal("code", failed.GetProperty("step").GetString());
        Assert.Contains("../escape", failed.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(sandbox.Root, "escape", SearchOption.AllDirectories));
        Assert.False(Directory.Exists(Path.Combine(sandbox.Home(0), "code")));
    }

    [Fact]
    public async Task LaunchAsync_ScriptMissingFromCode_FailsNamingTheStep()
    {
        using var sandbox = new WorkerSandbox();
        sandbox.WriteWorkScript();
        var runner = new LocalWorkerRunner(sandbox.Options());

        var results = await runner.LaunchAsync(sandbox.Plan(workers: 1, script: "train.py"), CancellationToken.None);

        Assert.True(results[0].Succeeded, results[0].StderrTail);
        var failed = await sandbox.WaitForMarkerAsync(1, 0, "prepare-failed");
        Assert.Equal("script", failed.GetProperty("step").GetString());
        Assert.Contains("train.py", failed.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    private static PaxTarEntry Entry(string name, string content) =>
        new(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)) };

    private static void WriteTarball(string path, string folder)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        TarFile.CreateFromDirectory(folder, gzip, includeBaseDirectory: false);
    }

    /// <summary>A minimal pure-Python wheel: a wheel is a zip of the package and its dist-info.</summary>
    /// <summary>A minimal pure-Python wheel: a zip of the package (<c>VALUE = value</c>) and its dist-info; no build tools needed.</summary>
    internal static void WriteWheel(string folder, string name = "spotjaxdemo", int value = 42)
    {
        Directory.CreateDirectory(folder);
        var files = new Dictionary<string, string>
        {
            [$"{name}/__init__.py"] = $"VALUE = {value}\n",
            [$"{name}-0.1.dist-info/METADATA"] = $"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n",
            [$"{name}-0.1.dist-info/WHEEL"] = "Wheel-Version: 1.0\nGenerator: spotjax-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        };
        files[$"{name}-0.1.dist-info/RECORD"] = string.Concat(files.Keys.Select(n => $"{n},,\n")) + $"{name}-0.1.dist-info/RECORD,,\n";
        using var zip = ZipFile.Open(Path.Combine(folder, $"{name}-0.1-py3-none-any.whl"), ZipArchiveMode.Create);
        foreach (var (entry, content) in files)
        {
            using var writer = new StreamWriter(zip.CreateEntry(entry).Open());
            writer.Write(content);
        }
    }
}
