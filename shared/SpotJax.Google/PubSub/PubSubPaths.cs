using System.Text.RegularExpressions;

namespace SpotJax.Google.PubSub;

/// <summary>Resource names and URIs of one project's topics and subscriptions.</summary>
internal sealed partial class PubSubPaths
{
    private readonly Uri _baseUri;

    public PubSubPaths(PubSubClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(options.Project, nameof(options));
        if (!ProjectPattern().IsMatch(options.Project))
        {
            throw new ArgumentException($"'{options.Project}' is not a project id", nameof(options));
        }

        Project = options.Project;
        var root = options.BaseUri.AbsoluteUri;
        // Without the trailing slash a relative "v1/..." would replace the root's last segment.
        _baseUri = new Uri(root.EndsWith('/') ? root : root + "/");
    }

    public string Project { get; }

    /// <summary><c>projects/P/topics/T</c>.</summary>
    public string Topic(string topic) => $"projects/{Project}/topics/{Checked(topic, nameof(topic))}";

    /// <summary><c>projects/P/subscriptions/S</c>.</summary>
    public string Subscription(string subscription) => $"projects/{Project}/subscriptions/{Checked(subscription, nameof(subscription))}";

    /// <summary>The URI of a resource name, optionally with a <c>:verb</c>.</summary>
    public Uri Uri(string resourceName, string? verb = null) => new(_baseUri, $"v1/{resourceName}{(verb is null ? "" : ":" + verb)}");

    /// <summary>
    /// Pub/Sub's rule for topic and subscription ids: 3 to 255 characters, a letter first, then
    /// letters, digits and <c>-_.~+%</c>, not starting with <c>goog</c>. Checked here so a bad name fails
    /// with its name instead of as a 400 from the server, and can never add a path segment.
    /// </summary>
    private static string Checked(string id, string parameter)
    {
        ArgumentNullException.ThrowIfNull(id, parameter);
        if (!IdPattern().IsMatch(id) || id.StartsWith("goog", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"'{id}' is not a valid Pub/Sub topic or subscription id", parameter);
        }

        return id;
    }

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9._~+%-]{2,254}$")]
    private static partial Regex IdPattern();

    // Real project ids are 6-30 lowercase characters; emulators accept any name, so only forbid what breaks a path.
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._:-]*$")]
    private static partial Regex ProjectPattern();
}
