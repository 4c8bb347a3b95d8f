using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace SpotJax.Local.Tests.Workers;

/// <summary>Runs <c>examples/quickstart/train.py</c> directly, as an attempt would.</summary>
public sealed class QuickstartTrainTests : IDisposable
{
    private readonly string checkpoints = Directory.CreateTempSubdirectory("spotjax-quickstart-").FullName;

    [Fact]
    public async Task TrainPy_RestartAfterPartialRun_ResumesFromNewestCheckpoint()
    {
        // Half a second a step: the first run is killed after its second checkpoint, far from its last step.
        using (var first = Start(restart: false, "--steps", "200", "--step-seconds", "0.5", "--checkpoint-every", "1"))
        {
            await WorkerSandbox.WaitUntilAsync(() => Directory.GetFiles(checkpoints, "step_*.json").Length >= 2, "two checkpoints");
            first.Process.Kill();
            await first.Process.WaitForExitAsync();
            Assert.StartsWith("starting fresh", first.Text, StringComparison.Ordinal);
        }

        var newest = Directory.GetFiles(checkpoints, "step_*.json").Max()!;
        var saved = JsonDocument.Parse(await File.ReadAllTextAsync(newest)).RootElement.GetProperty("step").GetInt32();
        using var second = Start(restart: true, "--steps", "200", "--step-seconds", "0", "--checkpoint-every", "5");
        await second.Process.WaitForExitAsync();

        Assert.Equal(0, second.Process.ExitCode);
        var output = second.Text;
        Assert.StartsWith($"resumed from checkpoint step {saved}", output, StringComparison.Ordinal);
        Assert.Contains($"step {saved + 1}/200", output, StringComparison.Ordinal);
        Assert.DoesNotContain($"step {saved}/200", output, StringComparison.Ordinal);
        Assert.Contains("finished at step 200", output, StringComparison.Ordinal);
        var final = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(checkpoints, "final.json"))).RootElement;
        Assert.Equal(200, final.GetProperty("step").GetInt32());
    }

    [Fact]
    public async Task TrainPy_Sigterm_SavesCheckpointOfCurrentStepAndExitsZero()
    {
        // Over an hour of steps: the SIGTERM arrives while it trains, however slow this machine is.
        using var run = Start(restart: false, "--steps", "100000", "--step-seconds", "0.05", "--checkpoint-every", "100000");
        await WorkerSandbox.WaitUntilAsync(() => run.Text.Contains("step 3/100000", StringComparison.Ordinal), "step 3");

        await WorkerSandbox.SignalAsync(run.Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), "TERM");
        await run.Process.WaitForExitAsync();

        Assert.Equal(0, run.Process.ExitCode);
        var saved = Assert.Single(Directory.GetFiles(checkpoints, "step_*.json"));
        var step = JsonDocument.Parse(await File.ReadAllTextAsync(saved)).RootElement.GetProperty("step").GetInt32();
        Assert.True(step >= 3, $"saved step {step}");
        Assert.Contains($"saved checkpoint at step {step}", run.Text, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(checkpoints, "final.json")));
        Assert.Empty(Directory.GetFiles(checkpoints, ".*"));
    }

    [Fact]
    public async Task TrainPy_WaitForPreemptionOnFirstAttempt_WaitsAtLastStepThenResumesAndFinishes()
    {
        using (var first = Start(restart: false, "--steps", "3", "--step-seconds", "0", "--wait-for-preemption"))
        {
            await WorkerSandbox.WaitUntilAsync(() => first.Text.Contains("waiting for a preemption", StringComparison.Ordinal), "the wait at the last step");
            Assert.False(first.Process.HasExited);

            await WorkerSandbox.SignalAsync(first.Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), "TERM");
            await first.Process.WaitForExitAsync();

            Assert.Equal(0, first.Process.ExitCode);
            Assert.Contains("preemption notice (SIGTERM) at step 3", first.Text, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(checkpoints, "final.json")));
        }

        using var second = Start(restart: true, "--steps", "3", "--step-seconds", "0", "--wait-for-preemption");
        await second.Process.WaitForExitAsync();

        Assert.Equal(0, second.Process.ExitCode);
        Assert.StartsWith("resumed from checkpoint step 3", second.Text, StringComparison.Ordinal);
        Assert.Contains("finished at step 3", second.Text, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(checkpoints, "final.json")));
    }

    public void Dispose()
    {
        Directory.Delete(checkpoints, recursive: true);
    }

    private static string TrainScript([CallerFilePath] string thisFile = "")
    {
        // The source path works with any artifacts folder; the output folder works when the build maps source paths.
        foreach (var start in new[] { Path.GetDirectoryName(thisFile)!, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "examples", "quickstart", "train.py");
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        throw new FileNotFoundException("examples/quickstart/train.py not found above the test sources or binaries");
    }

    private Run Start(bool restart, params string[] args)
    {
        var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(TrainScript());
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["SPOT_CHECKPOINT_DIR"] = checkpoints;
        start.Environment["SPOT_IS_RESTART"] = restart ? "true" : "false";
        start.Environment["SPOT_ATTEMPT"] = restart ? "2" : "1";
        start.Environment["SPOT_WORKER_ID"] = "0";
        start.Environment["PYTHONUNBUFFERED"] = "1";
        return new Run(Process.Start(start)!);
    }

    private sealed class Run : IDisposable
    {
        private readonly StringBuilder output = new();

        public Run(Process process)
        {
            Process = process;
            process.OutputDataReceived += (_, e) => Append(e.Data);
            process.ErrorDataReceived += (_, e) => Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public Process Process { get; }

        public string Text
        {
            get
            {
                lock (output)
                {
                    return output.ToString();
                }
            }
        }

        public void Dispose()
        {
            if (!Process.HasExited)
            {
                Process.Kill();
            }

            Process.Dispose();
        }

        private void Append(string? line)
        {
            if (line is not null)
            {
                lock (output)
                {
                    output.AppendLine(line);
                }
            }
        }
    }
}
