using System.Collections;
using System.Globalization;

namespace SpotJax.Functions.Host;

/// <summary>How one function container runs, read from its environment (the Functions Framework contract).</summary>
public sealed record FunctionHostOptions
{
    public const string TargetVariable = "FUNCTION_TARGET";
    public const string PortVariable = "PORT";
    public const string LoopbackVariable = "SPOTJAX_LOOPBACK_ONLY";
    public const string AudienceVariable = "SPOTJAX_PUSH_AUDIENCE";
    public const string ServiceAccountVariable = "SPOTJAX_PUSH_SERVICE_ACCOUNT";
    public const string ProjectVariable = "GOOGLE_CLOUD_PROJECT";

    /// <summary>One of <see cref="FunctionNames.All"/>.</summary>
    public required string Target { get; init; }

    public int Port { get; init; } = 8080;

    /// <summary>Local mode: accept connections from this machine only.</summary>
    public bool LoopbackOnly { get; init; }

    /// <summary>When set, every request must carry a valid OIDC token from the expected account.</summary>
    public PushAuthOptions? Auth { get; init; }

    /// <summary>The project, for the trace field of log lines.</summary>
    public string? Project { get; init; }

    /// <summary>Reads and checks the environment; a wrong value stops the container at start-up with a clear message.</summary>
    public static FunctionHostOptions FromEnvironment(IDictionary environment)
    {
        string? Get(string name) => environment[name] as string is { Length: > 0 } value ? value : null;

        var target = Get(TargetVariable)
            ?? throw new HostConfigurationException($"{TargetVariable} is not set; it must name one of: {string.Join(", ", FunctionNames.All)}");
        if (!FunctionNames.All.Contains(target))
        {
            throw new HostConfigurationException($"{TargetVariable}={target} is not a SpotJax function; expected one of: {string.Join(", ", FunctionNames.All)}");
        }

        var port = 8080;
        if (Get(PortVariable) is { } portText && (!int.TryParse(portText, CultureInfo.InvariantCulture, out port) || port is < 0 or > 65535))
        {
            throw new HostConfigurationException($"{PortVariable}={portText} is not a TCP port");
        }

        var audience = Get(AudienceVariable);
        var account = Get(ServiceAccountVariable);
        if ((audience is null) != (account is null))
        {
            throw new HostConfigurationException($"set both {AudienceVariable} and {ServiceAccountVariable} to verify pushes, or neither");
        }

        return new FunctionHostOptions
        {
            Target = target,
            Port = port,
            LoopbackOnly = Get(LoopbackVariable) is "1" or "true",
            Auth = audience is null ? null : new PushAuthOptions(audience, account!),
            Project = Get(ProjectVariable),
        };
    }
}
