using System.ComponentModel;
using System.Diagnostics;

namespace SpotJax.Ssh;

/// <summary>An ed25519 key pair made with <c>ssh-keygen</c>, for local sshd workers and their host keys.</summary>
public sealed record SshKeyPair(string PrivateKeyPath, string PublicKey)
{
    /// <summary>Writes <paramref name="privateKeyPath"/> (no passphrase) and <c>.pub</c> beside it.</summary>
    public static async Task<SshKeyPair> GenerateAsync(string privateKeyPath, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(privateKeyPath);
        var start = new ProcessStartInfo("ssh-keygen") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "-q", "-t", "ed25519", "-N", "", "-C", "spotjax", "-f", privateKeyPath })
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException($"ssh-keygen is not available ({e.Message}): apt-get install -y openssh-client", e);
        }

        using (process)
        {
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            await process.StandardOutput.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken);
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"ssh-keygen failed with exit code {process.ExitCode}: {await stderr}");
            }
        }

        return new SshKeyPair(privateKeyPath, (await File.ReadAllTextAsync(privateKeyPath + ".pub", cancellationToken)).Trim());
    }
}
