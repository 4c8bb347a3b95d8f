using Renci.SshNet;

namespace SpotJax.Ssh;

/// <summary>The order in which a connection offers key exchange methods (<see cref="SshRunnerOptions.PreferredKeyExchange"/>).</summary>
internal static class SshKeyExchange
{
    /// <summary>The key exchange methods SSH.NET implements, in its order of preference.</summary>
    public static IReadOnlyList<string> Supported { get; } =
        [.. new ConnectionInfo("localhost", "user", new NoneAuthenticationMethod("user")).KeyExchangeAlgorithms.Keys];

    /// <summary>
    /// Moves <paramref name="preferred"/> ahead of SSH.NET's other methods, which stay behind them in
    /// their order: the server takes the first method of the client's list that it also offers.
    /// </summary>
    public static void Prefer(ConnectionInfo info, IReadOnlyList<string> preferred)
    {
        var algorithms = info.KeyExchangeAlgorithms;
        var order = preferred.Concat(algorithms.Keys.Except(preferred, StringComparer.Ordinal)).ToList();
        var factories = order.Select(name => (name, factory: algorithms[name])).ToList();
        algorithms.Clear();
        foreach (var (name, factory) in factories)
        {
            algorithms.Add(name, factory);
        }
    }
}
