using System.Diagnostics;
using System.Text.Json.Nodes;

namespace SpotJax.Google.Tests.PubSub;

/// <summary>The real Google Cloud CLI, pointed at the Pub/Sub emulator.</summary>
internal static class Gcloud
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Runs <c>gcloud pubsub topics publish</c> against the emulator and returns the message id it
    /// printed. gcloud needs the endpoint override, and credentials switched off: without them it
    /// refuses to call any API ("You do not currently have an active account selected"). A private
    /// configuration folder keeps the user's gcloud settings out of it (and it out of them).
    /// </summary>
    public static async Task<string> PublishAsync(Uri emulator, string project, string configFolder, string topic, string message)
    {
        var start = new ProcessStartInfo("gcloud") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "pubsub", "topics", "publish", topic, $"--message={message}", $"--project={project}", "--format=json" })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB"] = emulator.AbsoluteUri;
        start.Environment["CLOUDSDK_AUTH_DISABLE_CREDENTIALS"] = "true";
        start.Environment["CLOUDSDK_CORE_PROJECT"] = project;
        start.Environment["CLOUDSDK_CONFIG"] = Directory.CreateDirectory(configFolder).FullName;
        start.Environment["CLOUDSDK_CORE_DISABLE_PROMPTS"] = "1";
        start.Environment["CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK"] = "true";
        start.Environment["CLOUDSDK_CORE_CHECK_GCE_METADATA"] = "false";

        using var gcloud = Process.Start(start) ?? throw new InvalidOperationException("gcloud did not start");
        using var patience = new CancellationTokenSource(Patience);
        var stdout = gcloud.StandardOutput.ReadToEndAsync(patience.Token);
        var stderr = gcloud.StandardError.ReadToEndAsync(patience.Token);
        try
        {
            await gcloud.WaitForExitAsync(patience.Token);
        }
        catch (OperationCanceledException)
        {
            gcloud.Kill(entireProcessTree: true);
            throw;
        }

        Assert.True(gcloud.ExitCode == 0, $"gcloud exited with {gcloud.ExitCode}: {await stderr}");
        var ids = JsonNode.Parse(await stdout)!["messageIds"]!.AsArray();
        return Assert.Single(ids)!.GetValue<string>();
    }
}
