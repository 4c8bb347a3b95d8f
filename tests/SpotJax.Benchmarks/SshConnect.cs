using System.Diagnostics;
using System.Globalization;
using Renci.SshNet;
using SpotJax.Core.Ports;
using SpotJax.Ssh;

namespace SpotJax.Benchmarks;

/// <summary>
/// The runner's processor time per SSH connection (TCP, key exchange, login) against a private sshd
/// on the loopback, with SSH.NET's own key exchange order and with
/// <see cref="SshRunnerOptions.PreferredKeyExchange"/>: the control plane's share of every worker's
/// launch, which opens two connections per worker. Connections one after another, after a warm-up.
/// Usage: dotnet run -c Release --project tests/SpotJax.Benchmarks -- ssh-connect [connections=50]
/// </summary>
public static class SshConnect
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (SshDaemon.Unavailable() is { } missing)
        {
            await Console.Error.WriteLineAsync(missing);
            return 2;
        }

        var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 50;
        var root = Directory.CreateTempSubdirectory("spotjax-ssh-connect-").FullName;
        try
        {
            await using var workers = await LocalSshWorkers.CreateAsync(Path.Combine(root, "sshd"), CancellationToken.None, emptyHomes: true);
            var daemon = await workers.DaemonAsync(0, CancellationToken.None);
            var key = await File.ReadAllBytesAsync(workers.ClientKey.PrivateKeyPath);
            var endpoint = new WorkerEndpoint(0, "127.0.0.1", daemon.Port);
            var preferred = new SshRunnerOptions { User = Environment.UserName, KeySource = new FileSshKeySource(workers.ClientKey.PrivateKeyPath) }.PreferredKeyExchange;

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{count} connections each, {Environment.ProcessorCount} cores"));
            Console.WriteLine($"{"key exchange order",-22}{"negotiated",-26}{"CPU ms",8}{"wall ms",9}");
            foreach (var (name, order) in new[] { ("SSH.NET's own", (IReadOnlyList<string>)[]), ("PreferredKeyExchange", preferred) })
            {
                await ConnectAsync(endpoint, key, order, 3);
                var (negotiated, cpu, wall) = await ConnectAsync(endpoint, key, order, count);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-22}{negotiated,-26}{cpu,8:0.0}{wall,9:0.0}"));
            }

            return 0;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task<(string Negotiated, double CpuMs, double WallMs)> ConnectAsync(WorkerEndpoint endpoint, byte[] key, IReadOnlyList<string> order, int count)
    {
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpu = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var negotiated = "";
        for (var i = 0; i < count; i++)
        {
            using var connection = new SshConnection<SshClient>(endpoint, Environment.UserName, key, TimeSpan.FromSeconds(15), order, info => new SshClient(info));
            await connection.Client.ConnectAsync(CancellationToken.None);
            negotiated = connection.Client.ConnectionInfo.CurrentKeyExchangeAlgorithm ?? "";
            connection.Client.Disconnect();
        }

        process.Refresh();
        return (negotiated, (process.TotalProcessorTime - cpu).TotalMilliseconds / count, clock.Elapsed.TotalMilliseconds / count);
    }
}
