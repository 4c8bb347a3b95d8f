using SpotJax.Google.Http;

namespace SpotJax.Google.Tests.Http;

/// <summary>Hands out <c>token-1</c>, <c>token-2</c>, ...: a new token only when asked to refresh.</summary>
internal sealed class CountingTokenSource : IAccessTokenSource
{
    private int _refreshes;

    public int Refreshes => Volatile.Read(ref _refreshes);

    public Task<string?> GetAccessTokenAsync(bool refresh, CancellationToken cancellationToken)
    {
        var generation = refresh ? Interlocked.Increment(ref _refreshes) : Volatile.Read(ref _refreshes);
        return Task.FromResult<string?>($"token-{generation + 1}");
    }
}
