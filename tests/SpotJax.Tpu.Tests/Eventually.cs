namespace SpotJax.Tpu.Tests;

/// <summary>Waits for a real condition (a file a process writes, a process exit) with a bound, never a fixed sleep.</summary>
internal static class Eventually
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static async Task TrueAsync(Func<bool> condition, string what)
    {
        using var deadline = new CancellationTokenSource(Timeout);
        while (!condition())
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), deadline.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"Timed out after {Timeout} waiting for {what}.");
            }
        }
    }
}
