using SpotJax.Google.PubSub;

namespace SpotJax.Google.Tests.PubSub;

/// <summary>Settings shared by the tests that run against the Pub/Sub emulator.</summary>
internal static class PubSubTesting
{
    /// <summary>Pulls that notice a new message within about 50 ms.</summary>
    public static readonly PubSubPullerOptions QuickPulls = new()
    {
        MaxConcurrency = 16,
        MinIdleDelay = TimeSpan.FromMilliseconds(5),
        MaxIdleDelay = TimeSpan.FromMilliseconds(50),
        ErrorDelay = TimeSpan.FromMilliseconds(50),
    };

    /// <summary>A topic or subscription id no other test uses.</summary>
    public static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}";
}
