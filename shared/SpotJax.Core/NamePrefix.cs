using System.Text.RegularExpressions;

namespace SpotJax.Core;

/// <summary>
/// The prefix of every resource name one deployment creates (Terraform's <c>name_prefix</c>): its topics,
/// subscriptions, services, service accounts and secret, so that two deployments share a project
/// without sharing a name.
/// </summary>
public static partial class NamePrefix
{
    /// <summary>Terraform's default, which gives the names of a deployment made before prefixes.</summary>
    public const string Default = "spotjax";

    /// <summary>
    /// What a prefix must be: the rule of infra/variables.tf <c>name_prefix</c>. Sixteen characters keep the
    /// longest name made from it within its limit (the service account <c>PREFIX-bucket-events</c>, 30).
    /// </summary>
    public const string Rule = "a name prefix is 1 to 16 characters of lowercase letters, digits and '-', starting with a letter, not ending with '-' and not starting with goog (Pub/Sub refuses such topic names)";

    /// <summary>Whether <paramref name="prefix"/> follows <see cref="Rule"/>.</summary>
    public static bool IsValid(string? prefix) =>
        prefix is not null && Pattern().IsMatch(prefix) && !prefix.StartsWith("goog", StringComparison.Ordinal);

    /// <summary>Returns <paramref name="prefix"/> when it follows <see cref="Rule"/>.</summary>
    /// <exception cref="ArgumentException">It does not; the message quotes it and states the rule.</exception>
    public static string Check(string? prefix) =>
        IsValid(prefix) ? prefix! : throw new ArgumentException($"'{prefix}' is not a name prefix: {Rule}", nameof(prefix));

    [GeneratedRegex(@"^[a-z]([a-z0-9-]{0,14}[a-z0-9])?\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
