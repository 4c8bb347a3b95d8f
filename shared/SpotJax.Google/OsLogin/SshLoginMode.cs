using System.Text.Json.Serialization;
using SpotJax.Core.Ports;
using SpotJax.Google.Http;

namespace SpotJax.Google.OsLogin;

/// <summary>How <c>launch</c> logs in to the TPU VMs: the deployment setting <c>ssh_login</c>.</summary>
public enum SshLoginSetting
{
    /// <summary>OS Login where the project or the organisation turns it on, metadata keys elsewhere.</summary>
    Auto,

    /// <summary>Always OS Login; provisioning also sets <c>enable-oslogin=TRUE</c> on the VMs.</summary>
    OsLogin,

    /// <summary>Always the key in the VMs' <c>ssh-keys</c> metadata; provisioning sets <c>enable-oslogin=FALSE</c> on the VMs (an organisation policy still wins).</summary>
    Metadata,
}

/// <summary>The mode a deployment logs in with, and why.</summary>
/// <param name="OsLogin">True for OS Login, false for metadata keys.</param>
/// <param name="Reason">Where the decision came from, for <c>spotjax setup</c> and the logs.</param>
public sealed record SshLoginMode(bool OsLogin, string Reason)
{
    /// <summary>The setting's text form (<c>auto</c>, <c>oslogin</c>, <c>metadata</c>).</summary>
    public static SshLoginSetting ParseSetting(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "auto" => SshLoginSetting.Auto,
        "oslogin" => SshLoginSetting.OsLogin,
        "metadata" => SshLoginSetting.Metadata,
        _ => throw new ArgumentException($"'{value}' is not an SSH login mode: expected auto, oslogin or metadata", nameof(value)),
    };

    public override string ToString() => $"{(OsLogin ? "OS Login" : "metadata keys")} ({Reason})";
}

/// <summary>
/// Decides the login mode of <see cref="SshLoginSetting.Auto"/> from what Google would enforce on a new
/// VM: the organisation policy <c>constraints/compute.requireOsLogin</c> (Org Policy v2
/// <c>projects.policies.getEffectivePolicy</c>) and the project metadata key <c>enable-oslogin</c>
/// (Compute Engine <c>projects.get</c>, <c>commonInstanceMetadata.items[]</c>). An unreadable
/// policy (no permission, API disabled) is not a decision: the project metadata decides, and the
/// reason says the policy could not be read.
/// </summary>
public sealed class SshLoginDetector
{
    /// <summary>The Compute Engine REST root in production.</summary>
    public static readonly Uri ComputeProductionRoot = new("https://compute.googleapis.com/");

    /// <summary>The Org Policy REST root in production.</summary>
    public static readonly Uri OrgPolicyProductionRoot = new("https://orgpolicy.googleapis.com/");

    /// <summary>The boolean constraint that makes every VM of the project use OS Login.</summary>
    public const string RequireOsLoginConstraint = "compute.requireOsLogin";

    private readonly GoogleApiTransport transport;
    private readonly string project;
    private readonly Uri computeRoot;
    private readonly Uri orgPolicyRoot;

    public SshLoginDetector(GoogleApiTransport transport, string project, Uri? computeRoot = null, Uri? orgPolicyRoot = null)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentException.ThrowIfNullOrEmpty(project);
        this.transport = transport;
        this.project = project;
        this.computeRoot = computeRoot ?? ComputeProductionRoot;
        this.orgPolicyRoot = orgPolicyRoot ?? OrgPolicyProductionRoot;
    }

    /// <summary>The mode for <paramref name="setting"/>; only <see cref="SshLoginSetting.Auto"/> calls the APIs.</summary>
    /// <exception cref="GoogleApiException">The project's metadata could not be read.</exception>
    public async Task<SshLoginMode> DetectAsync(SshLoginSetting setting, CancellationToken cancellationToken)
    {
        switch (setting)
        {
            case SshLoginSetting.OsLogin:
                return new SshLoginMode(true, "deployment setting ssh_login=oslogin");
            case SshLoginSetting.Metadata:
                return new SshLoginMode(false, "deployment setting ssh_login=metadata");
        }

        string policyNote;
        try
        {
            var policy = await transport.SendJsonAsync<OrgPolicy>(
                HttpMethod.Get, new Uri(orgPolicyRoot, $"v2/projects/{Uri.EscapeDataString(project)}/policies/{RequireOsLoginConstraint}:getEffectivePolicy"), null, idempotent: true, cancellationToken);
            if (policy.Spec?.Rules?.Any(r => r.Enforce == true && r.Condition is null) == true)
            {
                return new SshLoginMode(true, $"organisation policy constraints/{RequireOsLoginConstraint} is enforced");
            }

            policyNote = $"constraints/{RequireOsLoginConstraint} not enforced";
        }
        catch (GoogleApiException e) when (!GoogleApiTransport.IsRetryable(e.Status))
        {
            policyNote = $"constraints/{RequireOsLoginConstraint} unreadable: {e.Status}";
        }

        var computeProject = await transport.SendJsonAsync<ComputeProject>(
            HttpMethod.Get, new Uri(computeRoot, $"compute/v1/projects/{Uri.EscapeDataString(project)}"), null, idempotent: true, cancellationToken);
        var value = computeProject.CommonInstanceMetadata?.Items?.LastOrDefault(i => i.Key == "enable-oslogin")?.Value;
        // The guest environment reads the value case-insensitively (TRUE, true, True).
        return string.Equals(value?.Trim(), "true", StringComparison.OrdinalIgnoreCase)
            ? new SshLoginMode(true, $"project metadata enable-oslogin={value}; {policyNote}")
            : new SshLoginMode(false, $"project metadata enable-oslogin {(value is null ? "unset" : $"={value}")}; {policyNote}");
    }
}

/// <summary>The part of Compute Engine's <c>Project</c> read here (google/cloud/compute/v1/compute.proto).</summary>
internal sealed record ComputeProject
{
    [JsonPropertyName("commonInstanceMetadata")] public ComputeMetadata? CommonInstanceMetadata { get; init; }
}

internal sealed record ComputeMetadata
{
    [JsonPropertyName("items")] public IReadOnlyList<ComputeMetadataItem>? Items { get; init; }
}

internal sealed record ComputeMetadataItem
{
    [JsonPropertyName("key")] public string? Key { get; init; }
    [JsonPropertyName("value")] public string? Value { get; init; }
}

/// <summary>The part of Org Policy v2's <c>Policy</c> read here (google/cloud/orgpolicy/v2/orgpolicy.proto).</summary>
internal sealed record OrgPolicy
{
    [JsonPropertyName("spec")] public OrgPolicySpec? Spec { get; init; }
}

internal sealed record OrgPolicySpec
{
    [JsonPropertyName("rules")] public IReadOnlyList<OrgPolicyRule>? Rules { get; init; }
}

internal sealed record OrgPolicyRule
{
    /// <summary>Set only in rules of boolean constraints.</summary>
    [JsonPropertyName("enforce")] public bool? Enforce { get; init; }

    /// <summary>A tag condition (<c>google.type.Expr</c>); a conditional rule is not taken as enforcement of the whole project.</summary>
    [JsonPropertyName("condition")] public System.Text.Json.JsonElement? Condition { get; init; }
}
