using System.Diagnostics;
using SpotJax.Contracts;
using SpotJax.Core.Jobs;

namespace SpotJax.Tests.Examples;

/// <summary>
/// examples/jax-mnist cannot train here (no JAX): its files must compile, its job file must be a
/// valid job, and its helper's environment, checkpoint and preemption handling, under its own
/// names and the original spotax helper's, is tested with jax and orbax replaced by stand-ins
/// (test_spotjax_utils.py).
/// </summary>
public sealed class JaxMnistExampleTests
{
    private static readonly string Example = Path.Combine(Repository.Root, "examples", "jax-mnist");

    private static async Task<(int ExitCode, string Output)> PythonAsync(params string[] args)
    {
        var start = new ProcessStartInfo("python3") { WorkingDirectory = Repository.Root, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["PYTHONPATH"] = Example;
        // Byte code goes nowhere near the example folder, which is what `spotjax submit` packs.
        start.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    [Fact]
    public async Task Sources_TrainAndBothHelperNames_AreValidPython()
    {
        var check = "import ast, sys\nfor path in sys.argv[1:]:\n    ast.parse(open(path, encoding='utf-8').read(), path)\nprint('parsed', len(sys.argv) - 1)";

        var (exit, output) = await PythonAsync("-c", check, Path.Combine(Example, "train.py"), Path.Combine(Example, "spotjax_utils.py"), Path.Combine(Example, "spotax_utils.py"));

        Assert.True(exit == 0, output);
        Assert.Contains("parsed 3", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Helper_WithJaxAndOrbaxStubbed_PassesItsTests()
    {
        var (exit, output) = await PythonAsync("-m", "unittest", "discover", "-v", "-s", Path.Combine(Repository.Root, "tests", "SpotJax.Tests", "Examples"), "-p", "test_spotjax_utils.py");

        Assert.True(exit == 0, output);
        Assert.Contains("Ran 31 tests", output, StringComparison.Ordinal);
        Assert.Matches(@"test_sigterm_sets_the_flag_with_its_reason \(.*\) \.\.\. ok", output);
        Assert.Matches(@"test_restore_or_init_with_checkpoints_restores_the_newest_into_the_initial_tree \(.*\) \.\.\. ok", output);
        Assert.Matches(@"test_import_without_jax_or_orbax_reads_the_config \(.*\) \.\.\. ok", output);
        Assert.DoesNotContain("FAILED", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task JobFile_IsAValidJobRunningTrainPy()
    {
        var spec = JobDocument.Parse(await File.ReadAllTextAsync(Path.Combine(Example, "job.yaml")), new JobDocumentOptions { AllowLocalCode = true, BaseDirectory = Example });

        Assert.Equal(("jax-mnist", "v5litepod-8", "train.py"), (spec.Name, spec.Tpu.Type, spec.Script));
        Assert.Equal(["us-west4-a", "us-east5-b"], spec.Tpu.Zones);
        Assert.True(File.Exists(Path.Combine(Example, spec.Script)));
        Assert.Contains("orbax-checkpoint", await File.ReadAllTextAsync(Path.Combine(Example, "requirements.txt")), StringComparison.Ordinal);
    }
}
