namespace SpotJax.Google.Http;

/// <summary>
/// A fixed token, for emulators: none for the Pub/Sub emulator and a local TPU simulator, the
/// literal <c>owner</c> for the Firestore emulator (its admin token).
/// </summary>
public sealed class FixedTokenSource(string? token) : IAccessTokenSource
{
    public static FixedTokenSource None { get; } = new(null);

    public Task<string?> GetAccessTokenAsync(bool refresh, CancellationToken cancellationToken) => Task.FromResult(token);
}
