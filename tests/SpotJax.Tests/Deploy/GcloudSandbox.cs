namespace SpotJax.Tests.Deploy;

/// <summary>
/// The environment of a gcloud that parses and validates like the user's, but cannot reach Google:
/// a private configuration folder with a fake project and no account, no metadata server, no update
/// check, and every API endpoint and proxy on a loopback port where nothing listens. A command that
/// passes gcloud's own checks then stops at its first API call for want of an account
/// (<see cref="NoAccount"/>) before any request is made.
/// </summary>
internal static class GcloudSandbox
{
    /// <summary>What gcloud says when a command that passed its checks needs credentials.</summary>
    public const string NoAccount = "You do not currently have an active account selected";

    public const string Project = "my-project";

    private static readonly string[] Apis =
    [
        "ARTIFACTREGISTRY", "CLOUDBUILD", "CLOUDRESOURCEMANAGER", "COMPUTE", "IAM", "LOGGING", "PUBSUB", "RUN", "SECRETMANAGER",
        "SERVICEUSAGE", "STORAGE", "TPU",
    ];

    public static Dictionary<string, string?> Environment(string configFolder)
    {
        var closed = $"http://127.0.0.1:{Tool.ClosedPort}/";
        var environment = new Dictionary<string, string?>
        {
            ["CLOUDSDK_CONFIG"] = Directory.CreateDirectory(configFolder).FullName,
            ["CLOUDSDK_CORE_PROJECT"] = Project,
            ["CLOUDSDK_CORE_DISABLE_PROMPTS"] = "1",
            ["CLOUDSDK_CORE_CHECK_GCE_METADATA"] = "false",
            ["CLOUDSDK_CORE_DISABLE_USAGE_REPORTING"] = "true",
            ["CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK"] = "true",
            ["CLOUDSDK_PROXY_TYPE"] = "http",
            ["CLOUDSDK_PROXY_ADDRESS"] = "127.0.0.1",
            ["CLOUDSDK_PROXY_PORT"] = Tool.ClosedPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            // No credentials from the machine either: the user's account, a key file, a token.
            ["CLOUDSDK_CORE_ACCOUNT"] = null,
            ["CLOUDSDK_AUTH_DISABLE_CREDENTIALS"] = null,
            ["CLOUDSDK_AUTH_ACCESS_TOKEN_FILE"] = null,
            ["CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE"] = null,
            ["GOOGLE_APPLICATION_CREDENTIALS"] = null,
        };
        foreach (var api in Apis)
        {
            environment[$"CLOUDSDK_API_ENDPOINT_OVERRIDES_{api}"] = closed;
        }

        return environment;
    }
}
