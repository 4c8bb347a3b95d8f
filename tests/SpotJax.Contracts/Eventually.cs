namespace SpotJax.Contracts;

/// <summary>Waits for a condition that real processes or other threads make true, with a bound instead of a fixed sleep.</summary>
public static class Eventually
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    public static Task TrueAsync(Func<bool> condition, TimeSpan? patience = null) =>
        TrueAsync(() => Task.FromResult(condition()), patience);

    /// <summary>Returns once <paramref name="condition"/> holds; fails the test after <paramref name="patience"/>.</summary>
    public static async Task TrueAsync(Func<Task<bool>> condition, TimeSpan? patience = null)
    {
        var limit = patience ?? Patience;
        var deadline = DateTime.UtcNow + limit;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"the condition did not hold within {limit}");
            }

            await Task.Delay(20);
        }
    }
}
