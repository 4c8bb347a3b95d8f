using System.Collections.Concurrent;
using System.Globalization;

namespace SpotJax.Ssh;

/// <summary>
/// SSH workers for local mode: one private <see cref="SshDaemon"/> per worker index, started on first
/// use, all accepting one client key made for the purpose. Worker <c>i</c> of every node is the same
/// daemon; each node's folder is chosen by the runner's remote root.
/// </summary>
public sealed class LocalSshWorkers : IAsyncDisposable
{
    private readonly ConcurrentDictionary<int, Lazy<Task<SshDaemon>>> daemons = new();

    private readonly bool emptyHomes;

    private LocalSshWorkers(string directory, SshKeyPair clientKey, bool emptyHomes)
    {
        Directory = directory;
        ClientKey = clientKey;
        this.emptyHomes = emptyHomes;
    }

    /// <summary>Holds the client key, <c>authorized_keys</c> and one folder per daemon.</summary>
    public string Directory { get; }

    /// <summary>The key the runner logs in with.</summary>
    public SshKeyPair ClientKey { get; }

    public string AuthorizedKeysFile => Path.Combine(Directory, "authorized_keys");

    /// <summary>Makes the client key and the folder; starts no daemon yet.</summary>
    /// <param name="emptyHomes">
    /// True: each daemon's sessions get an empty HOME of their own, as on a new TPU VM, instead of the
    /// user's (whose shell start-up files, a version manager's for one, would be timed on every login).
    /// </param>
    /// <exception cref="InvalidOperationException">sshd or ssh-keygen is not installed.</exception>
    public static async Task<LocalSshWorkers> CreateAsync(string directory, CancellationToken cancellationToken, bool emptyHomes = false)
    {
        if (SshDaemon.Unavailable() is { } reason)
        {
            throw new InvalidOperationException(reason);
        }

        System.IO.Directory.CreateDirectory(directory);
        var key = await SshKeyPair.GenerateAsync(Path.Combine(directory, "client_ed25519_key"), cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(directory, "authorized_keys"), key.PublicKey + "\n", cancellationToken);
        return new LocalSshWorkers(directory, key, emptyHomes);
    }

    /// <summary>The running daemon of worker <paramref name="worker"/>, started if needed.</summary>
    public Task<SshDaemon> DaemonAsync(int worker, CancellationToken cancellationToken) =>
        daemons.GetOrAdd(worker, index =>
        {
            var folder = Path.Combine(Directory, string.Create(CultureInfo.InvariantCulture, $"worker-{index}"));
            return new Lazy<Task<SshDaemon>>(() => SshDaemon.StartAsync(folder, AuthorizedKeysFile, cancellationToken, emptyHomes ? Path.Combine(folder, "home") : null));
        }).Value;

    /// <summary>
    /// The address of worker <paramref name="worker"/>, in the shape of the TPU simulator's endpoint
    /// option. The simulator asks synchronously, once per worker of a new node; a first start blocks it
    /// for the fraction of a second sshd takes to listen.
    /// </summary>
    public (string Ip, int Port) Endpoint(int worker) => ("127.0.0.1", DaemonAsync(worker, CancellationToken.None).GetAwaiter().GetResult().Port);

    public async ValueTask DisposeAsync()
    {
        foreach (var daemon in daemons.Values.Where(d => d.IsValueCreated))
        {
            try
            {
                await (await daemon.Value).DisposeAsync();
            }
            catch (InvalidOperationException)
            {
                // That daemon never started; there is nothing to stop.
            }
        }
    }
}
