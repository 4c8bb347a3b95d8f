namespace SpotJax.Contracts;

/// <summary>Waits for a condition that real processes or other threads make true, with a bound instead of a fixed sleep.</summary>
public static class Eventually
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    public static Task TrueAsync(Func<bool> condition, TimeSpan? patience = null) =>
        TrueAsync(() => Task.FromResult(condition()), patience);

    /// <param name="what">What is awaited, for the failure message.</param>
    public static Task TrueAsync(Func<bool> condition, string what, TimeSpan? patience = null) =>
        TrueAsync(() => Task.FromResult(condition()), patience, what);

    /// <summary>Returns once <paramref name="condition"/> holds; fails the test after <paramref name="patience"/>.</summary>
    public static async Task TrueAsync(Func<Task<bool>> condition, TimeSpan? patience = null, string what = "the condition")
    {
        var limit = patience ?? Patience;
        var deadline = DateTime.UtcNow + limit;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"{what} did not happen within {limit}");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>The file's text once it exists (and, with <paramref name="until"/>, once its text satisfies it).</summary>
    public static async Task<string> FileAsync(string path, Func<string, bool>? until = null, TimeSpan? patience = null)
    {
        var text = "";
        await TrueAsync(() => File.Exists(path) && (until is null || until(text = File.ReadAllText(path))), $"{path} appearing with the expected content", patience);
        return until is null ? await File.ReadAllTextAsync(path) : text;
    }
}
