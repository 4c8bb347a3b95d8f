using SpotJax.Google.Http;

namespace SpotJax.Google;

/// <summary>
/// Chooses each Google service's endpoint and credentials from the environment, the way Google's
/// own client libraries do: an emulator variable wins and means plain HTTP on the loopback without
/// Google credentials; otherwise the production root with Application Default Credentials.
/// </summary>
public sealed class GoogleEndpoints
{
    /// <summary><c>host:port</c> of a Pub/Sub emulator (no scheme, the convention every Google client follows).</summary>
    public const string PubSubEmulatorHostVariable = "PUBSUB_EMULATOR_HOST";

    /// <summary><c>host:port</c> of a Firestore emulator.</summary>
    public const string FirestoreEmulatorHostVariable = "FIRESTORE_EMULATOR_HOST";

    /// <summary>The base URL of a Cloud TPU API stand-in, such as the TPU simulator (<c>http://127.0.0.1:PORT/</c>).</summary>
    public const string TpuApiVariable = "SPOTJAX_TPU_API";

    /// <summary>The Firestore emulator's administrator token: it rejects any other bearer token.</summary>
    public const string FirestoreEmulatorToken = "owner";

    /// <summary>The Pub/Sub REST root in production.</summary>
    public static readonly Uri PubSubProductionRoot = new("https://pubsub.googleapis.com/");

    /// <summary>The Firestore REST root in production.</summary>
    public static readonly Uri FirestoreProductionRoot = new("https://firestore.googleapis.com/");

    /// <summary>The Cloud TPU REST root in production.</summary>
    public static readonly Uri TpuProductionRoot = new("https://tpu.googleapis.com/");

    private readonly Func<string, string?> _environment;
    private readonly IAccessTokenSource _applicationDefault;

    /// <summary>Reads the process environment; the production services share one credential.</summary>
    public GoogleEndpoints()
        : this(Environment.GetEnvironmentVariable)
    {
    }

    /// <summary>Reads variables through <paramref name="environment"/> (a configuration or a test dictionary).</summary>
    /// <param name="environment">A variable's value by name, null when unset.</param>
    /// <param name="applicationDefault">The production token source; <see cref="ApplicationDefaultTokenSource"/> when null.</param>
    public GoogleEndpoints(Func<string, string?> environment, IAccessTokenSource? applicationDefault = null)
    {
        ArgumentNullException.ThrowIfNull(environment);
        _environment = environment;
        // Looks for credentials only on its first token request, so emulator-only runs never need any.
        _applicationDefault = applicationDefault ?? new ApplicationDefaultTokenSource();
    }

    /// <summary>Pub/Sub: the emulator without credentials, or production.</summary>
    public GoogleEndpoint PubSub => FromEmulatorHost(PubSubEmulatorHostVariable, FixedTokenSource.None) ?? Production(PubSubProductionRoot);

    /// <summary>Firestore: the emulator with its <c>owner</c> token, or production.</summary>
    public GoogleEndpoint Firestore =>
        FromEmulatorHost(FirestoreEmulatorHostVariable, new FixedTokenSource(FirestoreEmulatorToken)) ?? Production(FirestoreProductionRoot);

    /// <summary>Cloud TPU: a stand-in's base URL without credentials, or production.</summary>
    public GoogleEndpoint Tpu
    {
        get
        {
            var value = Read(TpuApiVariable);
            if (value is null)
            {
                return Production(TpuProductionRoot);
            }

            if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                throw new InvalidOperationException($"{TpuApiVariable}='{value}' is not an http(s) URL");
            }

            return new GoogleEndpoint(WithTrailingSlash(uri), FixedTokenSource.None, IsLocal: true);
        }
    }

    private GoogleEndpoint Production(Uri root) => new(root, _applicationDefault, IsLocal: false);

    private GoogleEndpoint? FromEmulatorHost(string variable, IAccessTokenSource tokens)
    {
        var value = Read(variable);
        if (value is null)
        {
            return null;
        }

        // "host:port" is the convention; an http:// URL is a common slip, harmless to accept.
        var hasScheme = value.Contains("://", StringComparison.Ordinal);
        if (!Uri.TryCreate(hasScheme ? value : "http://" + value, UriKind.Absolute, out var uri) ||
            uri.Scheme != Uri.UriSchemeHttp || (!hasScheme && uri.IsDefaultPort))
        {
            throw new InvalidOperationException($"{variable}='{value}' is not host:port");
        }

        return new GoogleEndpoint(new Uri(uri.GetLeftPart(UriPartial.Authority) + "/"), tokens, IsLocal: true);
    }

    private string? Read(string variable) => _environment(variable) is { } value && !string.IsNullOrWhiteSpace(value) ? value.Trim() : null;

    private static Uri WithTrailingSlash(Uri uri) => uri.AbsoluteUri.EndsWith('/') ? uri : new Uri(uri.AbsoluteUri + "/");
}
