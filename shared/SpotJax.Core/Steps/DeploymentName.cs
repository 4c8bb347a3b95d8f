using System.Text.RegularExpressions;

namespace SpotJax.Core.Steps;

/// <summary>
/// The name of one SpotJax deployment, put on every queued resource it creates as the value of the
/// <see cref="ProvisionFunction.DeploymentLabel"/> label, so that several deployments can share one
/// Google Cloud project and each sweep touches only its own queued resources.
/// </summary>
public static partial class DeploymentName
{
    /// <summary>The name when none is configured: Terraform's default <c>name_prefix</c>.</summary>
    public const string Default = "spotjax";

    /// <summary>The name local mode gives its plane when none is chosen.</summary>
    public const string Local = "local";

    /// <summary>What status shows for the deployment of a job created before jobs recorded theirs.</summary>
    public const string NotRecorded = "not recorded (created before deployments had names)";

    /// <summary>
    /// What a name must be: a Compute Engine label value (https://cloud.google.com/compute/docs/labeling-resources),
    /// narrowed to ASCII and to a lowercase letter first, so that it reads as a name everywhere.
    /// </summary>
    public const string Rule = "a deployment name is 1 to 63 characters of lowercase letters, digits, '_' and '-', starting with a lowercase letter";

    /// <summary>Whether <paramref name="name"/> follows <see cref="Rule"/>.</summary>
    public static bool IsValid(string? name) => name is not null && Pattern().IsMatch(name);

    /// <summary>Returns <paramref name="name"/> when it follows <see cref="Rule"/>.</summary>
    /// <exception cref="ArgumentException">It does not; the message quotes it and states the rule.</exception>
    public static string Check(string? name) =>
        IsValid(name) ? name! : throw new ArgumentException($"'{name}' is not a deployment name: {Rule}", nameof(name));

    [GeneratedRegex(@"^[a-z][a-z0-9_-]{0,62}\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
