using SpotJax.Functions.Local;

namespace SpotJax.Cli;

/// <param name="Root">The local state folder.</param>
/// <param name="PreemptAfter">The n-th value preempts attempt n once it has run that long.</param>
/// <param name="ProvisionDelay">The simulator's time from create to ACTIVE.</param>
/// <param name="Timeout">The longest the run may take.</param>
/// <param name="Verbose">Show the control plane's retries and rejected messages.</param>
/// <param name="CodeLimits">The largest code folder to pack.</param>
/// <param name="SshWorkers">Reach the workers over SSH, each a private sshd on the loopback.</param>
public sealed record LocalRunSettings(string Root, IReadOnlyList<TimeSpan> PreemptAfter, TimeSpan ProvisionDelay, TimeSpan Timeout, bool Verbose, CodeBundleOptions CodeLimits, bool SshWorkers = false);
