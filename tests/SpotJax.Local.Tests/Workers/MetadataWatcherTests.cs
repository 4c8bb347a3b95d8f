using System.Diagnostics;
using SpotJax.Core.Agent;

namespace SpotJax.Local.Tests.Workers;

/// <summary>The node agent's metadata watch run on its own against the fake metadata server, each notice printed.</summary>
public sealed class MetadataWatcherTests
{
    private const string Driver = """
        import sys, threading
        import spotjax_agent
        base, key, value, wanted = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
        heard = []
        enough = threading.Event()
        def notify(reason):
            print("NOTICE " + reason, flush=True)
            heard.append(reason)
            if len(heard) == wanted:
                enough.set()
        spotjax_agent.MetadataWatcher(base, key, value, "notice", notify).start()
        enough.wait()
        """;

    [Theory]
    [InlineData("instance/preempted", "TRUE", "FALSE")]
    [InlineData("instance/maintenance-event", "TERMINATE_ON_HOST_MAINTENANCE", "NONE")]
    public async Task Watch_ValueTakesTheNoticeValueTwiceBetweenPolls_ReportsEachTime(string key, string value, string quiet)
    {
        // Every change lands right after an answer, while the watch has no request outstanding; a 503
        // (the server busy with a maintenance event) comes in between.
        await using var metadata = FakeGoogleServer.StartWithChanges(key, [value, quiet, value], unavailableWaits: 1);

        var stdout = await RunAsync(metadata.MetadataUrl, key, value, wanted: 2);

        Assert.Equal(["NOTICE notice", "NOTICE notice"], stdout.Split('\n').Where(line => line.StartsWith("NOTICE", StringComparison.Ordinal)));
        Assert.True(metadata.NoticeRequests >= 4, $"{metadata.NoticeRequests} requests: one plain GET, then one watch per change and the 503");
        Assert.Equal(0, metadata.WaitsWithoutLastETag);
    }

    [Fact]
    public async Task Watch_NodeAlreadyPreemptedWhenTheWatchStarts_ReportsAtOnce()
    {
        // The plain GET that starts the watch already reads TRUE: a watch that began with wait_for_change
        // would hold on until a next change, which never comes.
        await using var metadata = FakeGoogleServer.StartWithChanges("instance/preempted", [], initial: "TRUE");

        var stdout = await RunAsync(metadata.MetadataUrl, "instance/preempted", "TRUE", wanted: 1);

        Assert.Contains("NOTICE notice", stdout, StringComparison.Ordinal);
    }

    private static async Task<string> RunAsync(string metadataUrl, string key, string value, int wanted)
    {
        var home = Directory.CreateTempSubdirectory("spotjax-watch-");
        try
        {
            return await RunInAsync(home.FullName, metadataUrl, key, value, wanted);
        }
        finally
        {
            home.Delete(recursive: true);
        }
    }

    private static async Task<string> RunInAsync(string home, string metadataUrl, string key, string value, int wanted)
    {
        await File.WriteAllBytesAsync(Path.Combine(home, NodeAgent.FileName), NodeAgent.Source());
        await File.WriteAllTextAsync(Path.Combine(home, "driver.py"), Driver);
        var start = new ProcessStartInfo("python3") { WorkingDirectory = home, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "driver.py", metadataUrl, key, value, wanted.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(WorkerSandbox.Patience);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"the watch did not report {wanted} notices: {await stdout}{await stderr}");
        }

        Assert.True(process.ExitCode == 0, await stderr);
        return await stdout;
    }
}
