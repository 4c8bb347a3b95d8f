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
    public async Task LaunchAsync_FailingSetupScript_FailsNamingTheStep()
    {
        using var sandbox = new WorkerSandbox();
        sandbox.WriteWorkScript();
        File.WriteAllText(Path.Combine(sandbox.Code, "spotax_setup.sh"), "echo 'no compiler here' >&2\nexit 4\n");
        var runner = new LocalWorkerRunner(sandbox.Options());

        var results = await runner.LaunchAsync(sandbox.Plan(workers: 1), CancellationToken.None);

        Assert.False(results[0].Succeeded);
        Assert.Contains("setup", results[0].StderrTail, StringComparison.Ordinal);
        Assert.Contains("no compiler here", results[0].StderrTail, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(sandbox.Home(0), "attempt-1.pgid")));
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

        Assert.False(results[0].Succeeded);
        Assert.Contains("code", results[0].StderrTail, StringComparison.Ordinal);
        Assert.Contains("../escape", results[0].StderrTail, StringComparison.Ordinal);
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

        Assert.False(results[0].Succeeded);
        Assert.Contains("script", results[0].StderrTail, StringComparison.Ordinal);
        Assert.Contains("train.py", results[0].StderrTail, StringComparison.Ordinal);
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
