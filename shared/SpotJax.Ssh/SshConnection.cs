using Renci.SshNet;
using SpotJax.Core.Ports;

namespace SpotJax.Ssh;

/// <summary>
/// One SSH.NET client with the key and login method it alone uses: SSH.NET keeps per-login state in
/// them, so two connections to a worker never share one.
/// </summary>
internal sealed class SshConnection<T> : IDisposable
    where T : BaseClient
{
    private readonly PrivateKeyFile key;
    private readonly PrivateKeyAuthenticationMethod login;

    public SshConnection(
        WorkerEndpoint endpoint, string user, byte[] privateKey, TimeSpan connectTimeout, IReadOnlyList<string> preferredKeyExchange, Func<ConnectionInfo, T> create)
    {
        key = new PrivateKeyFile(new MemoryStream(privateKey, writable: false));
        login = new PrivateKeyAuthenticationMethod(user, key);
        var info = new ConnectionInfo(endpoint.IpAddress, endpoint.Port, user, login) { Timeout = connectTimeout };
        SshKeyExchange.Prefer(info, preferredKeyExchange);
        Client = create(info);
    }

    public T Client { get; }

    public void Dispose()
    {
        Client.Dispose();
        login.Dispose();
        key.Dispose();
    }
}
