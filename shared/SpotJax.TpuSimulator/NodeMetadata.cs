using System.Security.Cryptography;
using System.Text;

namespace SpotJax.TpuSimulation;

/// <summary>The metadata-server values of one node that change during its life, with hanging reads.</summary>
internal sealed class NodeMetadata
{
    public const string PreemptedKey = "preempted";
    public const string MaintenanceEventKey = "maintenance-event";

    private readonly Lock _gate = new();
    private bool _preempted;
    private string _maintenanceEvent = "NONE";
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _waiters;

    /// <summary>
    /// The OAuth access token the node's service account gets from <c>instance/service-accounts/default/token</c>;
    /// the Secret Manager stand-in admits only tokens of nodes that exist.
    /// </summary>
    public string AccessToken { get; } = "ya29.simulated-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    /// <summary>Reads currently held open by <c>wait_for_change</c>, with their timeout already armed.</summary>
    public int Waiters => Volatile.Read(ref _waiters);

    /// <summary>The metadata server's ETag for a value: a content hash, so equal values share it.</summary>
    public static string ETag(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)).AsSpan(0, 8));

    public static bool IsKnownKey(string key) => key is PreemptedKey or MaintenanceEventKey;

    public void MarkPreempted() => Change(() => _preempted = true);

    public void MarkMaintenance(string maintenanceEvent) => Change(() => _maintenanceEvent = maintenanceEvent);

    /// <summary>The current value of <paramref name="key"/>.</summary>
    public string Read(string key) => Snapshot(key).Value;

    /// <summary>
    /// The value of <paramref name="key"/>; with <paramref name="waitForChange"/>, the first value whose ETag
    /// differs from <paramref name="lastETag"/> (default: the current one), or the current value after
    /// <paramref name="timeout"/>, as the real server's <c>?wait_for_change=true[&amp;last_etag=]</c> does.
    /// </summary>
    public async Task<string> ReadAsync(string key, bool waitForChange, string? lastETag, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        var (value, changed) = Snapshot(key);
        if (!waitForChange)
        {
            return value;
        }

        var baseline = string.IsNullOrEmpty(lastETag) ? ETag(value) : lastETag;
        var deadline = time.GetUtcNow() + timeout;
        while (ETag(value) == baseline)
        {
            var remaining = deadline - time.GetUtcNow();
            if (remaining <= TimeSpan.Zero)
            {
                break;
            }

            var wait = changed.WaitAsync(remaining, time, cancellationToken);
            Interlocked.Increment(ref _waiters);
            try
            {
                await wait;
            }
            catch (TimeoutException)
            {
                break;
            }
            finally
            {
                Interlocked.Decrement(ref _waiters);
            }

            (value, changed) = Snapshot(key);
        }

        return value;
    }

    private (string Value, Task Changed) Snapshot(string key)
    {
        lock (_gate)
        {
            var value = key == PreemptedKey ? (_preempted ? "TRUE" : "FALSE") : _maintenanceEvent;
            return (value, _changed.Task);
        }
    }

    private void Change(Action update)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            update();
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }
}
