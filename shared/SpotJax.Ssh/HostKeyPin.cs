using System.Globalization;
using System.Text;
using SpotJax.Core.Ports;

namespace SpotJax.Ssh;

/// <summary>
/// Trust on first contact, per attempt: a brand-new TPU VM's host key cannot be known in advance,
/// so the first key seen in an attempt is recorded in the control bucket and every later
/// connection of that attempt, from any process, must present the same key.
/// </summary>
internal sealed class HostKeyPin(IObjectStore store, string jobId, int attempt, int worker)
{
    private string? recorded;
    private string? seen;
    private volatile string? refusal;

    /// <summary>The object holding the fingerprint: <c>&lt;jobId&gt;/hostkeys/attempt-N/worker-I</c>.</summary>
    public string ObjectName { get; } = string.Create(CultureInfo.InvariantCulture, $"{jobId}/hostkeys/attempt-{attempt}/worker-{worker}");

    /// <summary>Why a key was refused, once one was.</summary>
    public string? Refusal => refusal;

    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        recorded = await ReadRecordedAsync(cancellationToken);
    }

    /// <summary>Called during key exchange (on SSH.NET's thread, possibly by two connections at once).</summary>
    public bool Accept(string fingerprint)
    {
        var expected = recorded ?? Interlocked.CompareExchange(ref seen, fingerprint, null) ?? fingerprint;
        if (string.Equals(expected, fingerprint, StringComparison.Ordinal))
        {
            return true;
        }

        refusal = $"host key {fingerprint} differs from {expected}, seen first in attempt {attempt.ToString(CultureInfo.InvariantCulture)}: refusing the connection";
        return false;
    }

    /// <summary>
    /// Records the key of a first contact, unless another launch of the attempt recorded one first:
    /// then succeeds only when that is the same key.
    /// </summary>
    /// <exception cref="WorkerLaunchException">Another launch recorded a different key first.</exception>
    public async Task RecordAsync(CancellationToken cancellationToken)
    {
        if (recorded is not null || seen is not { } fingerprint)
        {
            return;
        }

        // Create-only: of launches racing on a first contact, exactly one records its key.
        if (!await store.TryCreateAsync(ObjectName, Encoding.UTF8.GetBytes(fingerprint + "\n"), cancellationToken))
        {
            var winner = await ReadRecordedAsync(cancellationToken);
            if (!string.Equals(winner, fingerprint, StringComparison.Ordinal))
            {
                refusal = $"host key {fingerprint} differs from {winner ?? "nothing"}, recorded meanwhile by another launch of attempt {attempt.ToString(CultureInfo.InvariantCulture)}";
                throw new WorkerLaunchException(refusal);
            }
        }

        recorded = fingerprint;
    }

    private async Task<string?> ReadRecordedAsync(CancellationToken cancellationToken)
    {
        var content = await store.GetAsync(ObjectName, cancellationToken);
        return content is null ? null : Encoding.UTF8.GetString(content).Trim();
    }
}
