using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using SpotJax.Contracts;

namespace SpotJax.Tests.Fixtures;

/// <summary>
/// Projects written for the original spotax (tests/fixtures/spotax-single, a v4-8, and
/// tests/fixtures/spotax-multihost, a v4-32 of four workers), run unchanged by
/// <c>spotjax run --local</c>, with local worker processes and with workers reached over SSH, through
/// one injected preemption. Their setup script installs a library from the project with
/// <c>uv pip install</c>, so it needs the venv active and uv on the PATH (tests/tools/uv is the
/// stand-in uv; jax and orbax are stand-ins from tests/fixtures/standins, see its README).
/// </summary>
public sealed partial class SpotaxProjectTests : IDisposable
{
    /// <summary>The first attempt holds at this step, checkpointed, until its preemption.</summary>
    private const int HoldStep = 10;
    private const int LastStep = 20;

    private static readonly string FixturesRoot = Path.Combine(Repository.Root, "tests", "fixtures");

    private readonly SpotJaxProgram spotjax = new();
    private readonly string dir = Directory.CreateTempSubdirectory("spotjax-fixture-").FullName;

    public SpotaxProjectTests() =>
        spotjax.Environment["PATH"] = Path.Combine(Repository.Root, "tests", "tools", "uv") + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH");

    public void Dispose()
    {
        spotjax.Dispose();
        Directory.Delete(dir, recursive: true);
    }

    public static TheoryData<string, bool> Runs => new()
    {
        { "spotax-single", false },
        { "spotax-single", true },
        { "spotax-multihost", false },
        { "spotax-multihost", true },
    };

    [Theory]
    [MemberData(nameof(Runs))]
    public async Task OriginalProject_RunLocalWithOnePreemption_ResumesFromTheStepItSavedAndSucceeds(string fixture, bool sshWorkers)
    {
        var project = Path.Combine(FixturesRoot, fixture);
        var before = Snapshot(project);
        var (workers, args, saved, held, restored, finished) = fixture == "spotax-single"
            ? (1, new[] { "--max_steps", $"{LastStep}", "--save_every", "2", "--step_seconds", "0.05", "--wait_for_preemption_at", $"{HoldStep}" },
                $"Saved checkpoint at step {HoldStep}", $"Waiting for a preemption at step {HoldStep}", $"Restored from step {HoldStep}", $"Training complete at step {LastStep}")
            : (4, new[] { "--steps", $"{LastStep}", "--checkpoint_period", "2", "--step_seconds", "0.05", "--hold_at_step", $"{HoldStep}" },
                $"saved checkpoint at step {HoldStep}", $"holding at step {HoldStep} for a preemption", $"restored checkpoint from step {HoldStep}", $"Training complete at step {LastStep}");
        var job = WriteJob(fixture, project, args);
        var state = Path.Combine(dir, "state");

        // The first attempt saves step 2 a tenth of a second into its steps and holds at step 10
        // until preempted, so the preemption, 8 s into RUNNING, comes after its checkpoints and
        // before it could finish, however long the preparation took.
        string[] command = ["run", "--local", job, "--preempt-after", "8s", "--provision-delay", "0.2s", "--timeout", "5m", "--state-dir", state];
        var (exit, output, error) = await spotjax.RunAsync(TimeSpan.FromMinutes(6), sshWorkers ? [.. command, "--ssh-workers"] : command);

        Assert.True(exit == 0, output + error);
        Assert.Contains("injecting a Spot preemption into attempt 1", output, StringComparison.Ordinal);
        Assert.Contains($"SUCCEEDED after 2 attempt(s): 1 preemption(s), 0 failure(s), last checkpoint step {LastStep},", output, StringComparison.Ordinal);
        var jobId = JobId().Match(output).Groups[1].Value;
        for (var worker = 0; worker < workers; worker++)
        {
            var first = await File.ReadAllTextAsync(WorkerLog(state, jobId, 1, worker));
            Assert.Contains(saved, first, StringComparison.Ordinal);
            Assert.Contains(held, first, StringComparison.Ordinal);
            Assert.DoesNotContain(finished, first, StringComparison.Ordinal);
            var second = await File.ReadAllTextAsync(WorkerLog(state, jobId, 2, worker));
            Assert.Contains(restored, second, StringComparison.Ordinal);
            Assert.Contains(finished, second, StringComparison.Ordinal);
        }

        // Orbax's layouts at depth: the helper's <step>/state, MaxText's <run>/checkpoints/<step>/items.
        var checkpoints = Directory.EnumerateDirectories(state, "ckpt", SearchOption.AllDirectories).Single(d => d.Contains(jobId, StringComparison.Ordinal));
        var parts = fixture == "spotax-single"
            ? [Path.Combine(checkpoints, $"{LastStep}", "state", "ocdbt.process_0")]
            : Enumerable.Range(0, workers).Select(i => Path.Combine(checkpoints, "qwen3_0p6b_sft_2048", "checkpoints", $"{LastStep}", "items", $"ocdbt.process_{i}")).ToArray();
        Assert.All(parts, part => Assert.True(Directory.Exists(part), part));

        // Run as it is: nothing in the project folder was added or changed.
        Assert.Equal(before, Snapshot(project));
    }

    /// <summary>
    /// The SpotJax job for a fixture, outside the project (the original tool had no job file): the
    /// project folder as the code, and the jax and orbax stand-ins on the script's PYTHONPATH.
    /// </summary>
    private string WriteJob(string fixture, string project, string[] args)
    {
        var path = Path.Combine(dir, fixture + ".json");
        var job = new Dictionary<string, object>
        {
            ["name"] = fixture,
            ["tpu"] = new Dictionary<string, string> { ["type"] = fixture == "spotax-single" ? "v4-8" : "v4-32", ["zone"] = "us-central2-b" },
            ["code"] = project,
            ["script"] = "train.py",
            ["args"] = args,
            ["env"] = new Dictionary<string, string> { ["PYTHONPATH"] = Path.Combine(FixturesRoot, "standins"), ["PYTHONDONTWRITEBYTECODE"] = "1" },
        };
        File.WriteAllText(path, JsonSerializer.Serialize(job));
        return path;
    }

    private static string WorkerLog(string state, string jobId, int attempt, int worker) =>
        Directory.EnumerateFiles(state, $"worker-{worker}.log", SearchOption.AllDirectories)
            .Single(path => path.Contains(jobId, StringComparison.Ordinal) && path.Contains($"attempt-{attempt}", StringComparison.Ordinal));

    /// <summary>Every file of the folder with its content's hash, byte code caches aside.</summary>
    private static string Snapshot(string folder)
    {
        var lines = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(path => !path.Contains($"{Path.DirectorySeparatorChar}__pycache__{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(path => $"{Path.GetRelativePath(folder, path)} {Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)))}");
        return string.Join('\n', lines);
    }

    [GeneratedRegex(@"as job ([a-z0-9-]+)")]
    private static partial Regex JobId();
}
