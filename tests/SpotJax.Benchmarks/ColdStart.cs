using System.Diagnostics;
using System.Globalization;
using System.Text;
using SpotJax.Core.Steps;
using SpotJax.Core;

namespace SpotJax.Benchmarks;

/// <summary>
/// Cold start of the functions image's program: from process start to the first CloudEvent
/// answered with 2xx, side by side with an empty ASP.NET Core minimal app, both published the way
/// the Dockerfile publishes (Release, linux-x64, ReadyToRun, framework-dependent).
/// Usage: dotnet run -c Release --project tests/SpotJax.Benchmarks -- cold-start [runs=10]
/// </summary>
public static class ColdStart
{
    public static async Task<int> RunAsync(string[] args)
    {
        var runs = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10;
        var root = Directory.CreateTempSubdirectory("spotjax-coldstart-").FullName;
        var repository = RepositoryRoot();
        var host = await PublishAsync(Path.Combine(repository, "functions", "SpotJax.Functions.Host"), Path.Combine(root, "host"));
        var empty = await PublishAsync(Path.Combine(repository, "tests", "SpotJax.Benchmarks.EmptyApp"), Path.Combine(root, "empty"));
        var state = Directory.CreateDirectory(Path.Combine(root, "state")).FullName;

        // The finish function for a job that does not exist: the host, the adapters, the decoder
        // and a store read, and nothing that waits on another service.
        var hostEnvironment = new Dictionary<string, string>
        {
            ["FUNCTION_TARGET"] = "finish",
            ["SPOTJAX_LOOPBACK_ONLY"] = "1",
            ["GOOGLE_CLOUD_PROJECT"] = "bench",
            ["SPOTJAX_BUCKET"] = "bench",
            ["SPOTJAX_BUCKET_DIR"] = Directory.CreateDirectory(Path.Combine(state, "bucket")).FullName,
            ["SPOTJAX_STATE_DB"] = Path.Combine(state, "jobs.db"),
            ["PUBSUB_EMULATOR_HOST"] = "127.0.0.1:9",
            ["SPOTJAX_TPU_API"] = "http://127.0.0.1:9/",
            ["SPOTJAX_WORKERS"] = "local",
            ["SPOTJAX_NODES_ROOT"] = state,
        };

        var hostTimes = new List<double>();
        var emptyTimes = new List<double>();
        for (var run = 0; run < runs + 1; run++)
        {
            // The first pair warms the disk cache and is not counted.
            var h = await FirstEventAsync(Path.Combine(host, "spotjax-functions.dll"), hostEnvironment);
            var e = await FirstEventAsync(Path.Combine(empty, "SpotJax.Benchmarks.EmptyApp.dll"), new Dictionary<string, string>());
            if (run > 0)
            {
                hostTimes.Add(h);
                emptyTimes.Add(e);
            }
        }

        hostTimes.Sort();
        emptyTimes.Sort();
        var hostMedian = hostTimes[hostTimes.Count / 2];
        var emptyMedian = emptyTimes[emptyTimes.Count / 2];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Cold start to the first CloudEvent answered, ReadyToRun, {runs} runs ({Environment.ProcessorCount} cores), milliseconds:"));
        Console.WriteLine($"{"program",-24}{"median",10}{"min",10}{"max",10}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"spotjax-functions",-24}{hostMedian,10:0}{hostTimes[0],10:0}{hostTimes[^1],10:0}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"empty minimal app",-24}{emptyMedian,10:0}{emptyTimes[0],10:0}{emptyTimes[^1],10:0}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ratio (medians): {hostMedian / emptyMedian:0.00}"));
        Directory.Delete(root, recursive: true);
        return 0;
    }

    private static async Task<string> PublishAsync(string project, string output)
    {
        var publish = Process.Start(new ProcessStartInfo("dotnet", ["publish", project, "-c", "Release", "-r", "linux-x64", "--self-contained", "false", "-p:PublishReadyToRun=true", "-o", output])
        {
            RedirectStandardOutput = true,
        })!;
        var log = await publish.StandardOutput.ReadToEndAsync();
        await publish.WaitForExitAsync();
        return publish.ExitCode == 0 ? output : throw new InvalidOperationException($"publish of {project} failed:\n{log}");
    }

    /// <summary>Starts the program and posts the CloudEvent until it is answered with 2xx.</summary>
    private static async Task<double> FirstEventAsync(string dll, Dictionary<string, string> environment)
    {
        var port = LoopbackPorts.Choose();
        var start = new ProcessStartInfo("dotnet", [dll]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        start.Environment["PORT"] = port.ToString(CultureInfo.InvariantCulture);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var body = Convert.ToBase64String(new StepMessage("nobody-0123456789", 1).ToBytes());
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            while (clock.Elapsed < TimeSpan.FromSeconds(30))
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"http://127.0.0.1:{port}/"))
                {
                    Content = new StringContent($$"""{"message": {"data": "{{body}}", "messageId": "1", "publishTime": "2026-11-28T12:00:00Z"}, "subscription": "projects/bench/subscriptions/finish"}""", Encoding.UTF8, "application/json"),
                };
                request.Headers.Add("ce-specversion", "1.0");
                request.Headers.Add("ce-type", "google.cloud.pubsub.topic.v1.messagePublished");
                request.Headers.Add("ce-source", "//pubsub.googleapis.com/projects/bench/topics/spotjax-finish");
                request.Headers.Add("ce-id", "1");
                try
                {
                    using var response = await http.SendAsync(request);
                    if (response.IsSuccessStatusCode)
                    {
                        return clock.Elapsed.TotalMilliseconds;
                    }

                    throw new InvalidOperationException($"{Path.GetFileName(dll)} answered {(int)response.StatusCode}");
                }
                catch (HttpRequestException)
                {
                    await Task.Delay(2);
                }
            }

            throw new TimeoutException($"{Path.GetFileName(dll)} did not answer within 30 s");
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    internal static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "SpotJax.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? Directory.GetCurrentDirectory();
    }
}
