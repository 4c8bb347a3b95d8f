using SpotJax.TpuSimulation;

namespace SpotJax.Google.Tests.EndToEnd;

/// <summary>How a <see cref="PushDeployment"/> is set up; the defaults are the plain deployment of the end-to-end tests.</summary>
public sealed record PushDeploymentOptions
{
    /// <summary>
    /// Push subscriptions per topic and function: more than one delivers every message (bucket notifications included)
    /// that many times, in no particular order.
    /// </summary>
    public int DeliveriesPerMessage { get; init; } = 1;

    /// <summary>Where a function's subscriptions push, given the function and its host's address; null: the host itself.</summary>
    public Func<string, Uri, Uri>? PushEndpoint { get; init; }

    /// <summary>The <c>PUBSUB_EMULATOR_HOST</c> a function's host publishes through; null: the emulator itself.</summary>
    public Func<string, string>? PublishHost { get; init; }

    /// <summary>Variables set in every function host's environment besides the deployment's own.</summary>
    public IReadOnlyDictionary<string, string> HostEnvironment { get; init; } = new Dictionary<string, string>();

    /// <summary>Changes the TPU simulator's options (faults, a ledger callback) before it starts.</summary>
    public Func<TpuSimulatorOptions, TpuSimulatorOptions>? Simulator { get; init; }
}
