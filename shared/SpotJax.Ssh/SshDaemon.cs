using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using SpotJax.Core;

namespace SpotJax.Ssh;

/// <summary>
/// A private OpenSSH server on the loopback, standing in for one TPU VM in local mode, tests and
/// benchmarks: its own folder, host key, configuration and port; keys from
/// <see cref="AuthorizedKeysFile"/>; SFTP served in-process. It can be stopped and started again
/// on the same port (a VM that goes away and comes back). Only the process it started is ever stopped.
/// </summary>
public sealed class SshDaemon : IAsyncDisposable
{
    /// <summary>Where Debian and Ubuntu install the server (<c>apt-get install -y openssh-server</c>).</summary>
    public const string Executable = "/usr/sbin/sshd";

    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(10);
    private readonly string configPath;
    private Process? process;

    private SshDaemon(string directory, string authorizedKeysFile, int port)
    {
        Directory = directory;
        AuthorizedKeysFile = authorizedKeysFile;
        Port = port;
        configPath = Path.Combine(directory, "sshd_config");
    }

    /// <summary>The daemon's folder: configuration, host key, pid file and <c>sshd.log</c>.</summary>
    public string Directory { get; }

    public string AuthorizedKeysFile { get; }

    /// <summary>The loopback port it listens on.</summary>
    public int Port { get; }

    /// <summary>True while the process this object started is running.</summary>
    public bool IsRunning => process is { HasExited: false };

    /// <summary>The reason to give when <see cref="Executable"/> is missing, or null when it is installed.</summary>
    public static string? Unavailable() =>
        File.Exists(Executable) ? null : $"{Executable} is missing: install it with `apt-get install -y openssh-server` (and `mkdir -p -m0755 /run/sshd`)";

    /// <summary>
    /// Writes the daemon's folder (configuration, a fresh ed25519 host key) without starting it.
    /// </summary>
    /// <param name="directory">An empty or new folder.</param>
    /// <param name="authorizedKeysFile">The public keys allowed to log in.</param>
    /// <param name="port">The port; 0 picks a free one.</param>
    /// <param name="sessionHome">
    /// Null: sessions run with the user's own HOME. Else an absolute folder, created if missing, given
    /// to every session as HOME, so that a login reads no start-up files of the user's (an empty home,
    /// as on a new TPU VM).
    /// </param>
    /// <param name="authorizedKeysCommand">
    /// Null: the keys of <paramref name="authorizedKeysFile"/> log in. Else the only source of keys, an
    /// <c>AuthorizedKeysCommand</c> (an absolute program owned by root, then its arguments; <c>%u</c> is the
    /// user) run as the current user, as a VM's guest agent asks OS Login for a user's keys.
    /// </param>
    public static async Task<SshDaemon> CreateAsync(
        string directory, string authorizedKeysFile, int port, CancellationToken cancellationToken, string? sessionHome = null, string? authorizedKeysCommand = null)
    {
        if (Unavailable() is { } reason)
        {
            throw new InvalidOperationException(reason);
        }

        if (sessionHome is not null && (!Path.IsPathFullyQualified(sessionHome) || sessionHome.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '"' or '\\')))
        {
            throw new ArgumentException($"the session home must be an absolute path without spaces, quotes or backslashes: {sessionHome}", nameof(sessionHome));
        }

        System.IO.Directory.CreateDirectory(directory);
        if (sessionHome is not null)
        {
            System.IO.Directory.CreateDirectory(sessionHome);
        }

        var daemon = new SshDaemon(directory, authorizedKeysFile, port == 0 ? LoopbackPorts.Choose() : port);
        var hostKey = await SshKeyPair.GenerateAsync(Path.Combine(directory, "host_ed25519_key"), cancellationToken);
        await File.WriteAllTextAsync(daemon.configPath, string.Create(CultureInfo.InvariantCulture, $"""
            Port {daemon.Port}
            ListenAddress 127.0.0.1
            HostKey {hostKey.PrivateKeyPath}
            PidFile {Path.Combine(directory, "sshd.pid")}
            {(authorizedKeysCommand is null ? $"AuthorizedKeysFile {authorizedKeysFile}" : $"AuthorizedKeysFile none\nAuthorizedKeysCommand {authorizedKeysCommand}\nAuthorizedKeysCommandUser {Environment.UserName}")}
            StrictModes no
            UsePAM no
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            PermitRootLogin prohibit-password
            UseDNS no
            PrintMotd no
            MaxStartups 256
            Subsystem sftp internal-sftp
            {(sessionHome is null ? "" : $"SetEnv HOME={sessionHome}")}

            """), cancellationToken);
        return daemon;
    }

    /// <summary>Creates and starts a daemon.</summary>
    public static async Task<SshDaemon> StartAsync(
        string directory, string authorizedKeysFile, CancellationToken cancellationToken, string? sessionHome = null, string? authorizedKeysCommand = null)
    {
        var daemon = await CreateAsync(directory, authorizedKeysFile, 0, cancellationToken, sessionHome, authorizedKeysCommand);
        try
        {
            await daemon.StartAsync(cancellationToken);
            return daemon;
        }
        catch
        {
            await daemon.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts the server and returns once it accepts connections.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (IsRunning)
        {
            return;
        }

        // Privilege separation needs this folder; a container often lacks it until sshd is started by systemd.
        if (!OperatingSystem.IsWindows() && Environment.UserName == "root" && !System.IO.Directory.Exists("/run/sshd"))
        {
            System.IO.Directory.CreateDirectory("/run/sshd", UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }

        var log = Path.Combine(Directory, "sshd.log");
        var start = new ProcessStartInfo(Executable)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[] { "-D", "-f", configPath, "-E", log })
        {
            start.ArgumentList.Add(argument);
        }

        try
        {
            process = Process.Start(start)!;
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException($"cannot start {Executable}: {e.Message}", e);
        }

        var clock = Stopwatch.StartNew();
        while (!await AcceptsAsync(cancellationToken))
        {
            if (process.HasExited || clock.Elapsed > ReadyTimeout)
            {
                var code = process.HasExited ? process.ExitCode.ToString(CultureInfo.InvariantCulture) : "none yet";
                await StopAsync();
                var detail = File.Exists(log) ? await File.ReadAllTextAsync(log, cancellationToken) : "";
                throw new InvalidOperationException($"sshd on port {Port} did not start (exit code {code}): {detail.Trim()}");
            }

            await Task.Delay(20, cancellationToken);
        }
    }

    /// <summary>Stops the server this object started (by its own pid); existing sessions end with their clients.</summary>
    public async Task StopAsync()
    {
        if (process is null)
        {
            return;
        }

        if (!process.HasExited)
        {
            process.Kill();
        }

        await process.WaitForExitAsync();
        process.Dispose();
        process = null;
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    private async Task<bool> AcceptsAsync(CancellationToken cancellationToken)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, Port, cancellationToken);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
