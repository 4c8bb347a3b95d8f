namespace SpotJax.Tests;

/// <summary>Waits for a condition that real processes make true, with a bound instead of a fixed sleep.</summary>
public static class Eventually
{
    public static Task TrueAsync(Func<bool> condition, TimeSpan? timeout = null) =>
        TrueAsync(() => Task.FromResult(condition()), timeout);

    public static async Task TrueAsync(Func<Task<bool>> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"condition not met within {timeout ?? TimeSpan.FromSeconds(20)}");
            }

            await Task.Delay(50);
        }
    }
}
