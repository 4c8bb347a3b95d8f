using System.Globalization;
using SpotJax.Google.Http;

namespace SpotJax.Google.OsLogin;

/// <summary>
/// The Cloud OS Login v1 REST client (<c>https://oslogin.googleapis.com/v1</c>), for the two calls
/// <c>launch</c> makes as its own service account: <c>users.importSshPublicKey</c> and
/// <c>users.getLoginProfile</c> (google/cloud/oslogin/v1/oslogin.proto). Both are sent again after a
/// transient failure: importing the same key again only sets its expiry again.
/// </summary>
public sealed class OsLoginClient
{
    /// <summary>The OS Login REST root in production.</summary>
    public static readonly Uri ProductionRoot = new("https://oslogin.googleapis.com/");

    private readonly GoogleApiTransport transport;
    private readonly Uri baseUri;
    private readonly string project;

    /// <param name="transport">Authentication, deadlines and retries; its token must be the user's own (a service account imports keys for itself).</param>
    /// <param name="project">The project whose POSIX account the profile carries (<c>projectId</c>).</param>
    /// <param name="baseUri">The API root; a stand-in's in tests and local mode.</param>
    public OsLoginClient(GoogleApiTransport transport, string project, Uri? baseUri = null)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentException.ThrowIfNullOrEmpty(project);
        this.transport = transport;
        this.project = project;
        var root = (baseUri ?? ProductionRoot).AbsoluteUri;
        this.baseUri = new Uri(root.EndsWith('/') ? root : root + "/");
    }

    /// <summary>
    /// <c>POST v1/users/{user}:importSshPublicKey?projectId=P</c> with the body <c>SshPublicKey</c>
    /// (<c>key</c>, <c>expirationTimeUsec</c>): adds the key to the user's profile until
    /// <paramref name="expires"/>, creating the project's POSIX account when the user has none.
    /// </summary>
    /// <param name="user">The user's email (a service account's email for <c>launch</c>).</param>
    /// <param name="publicKey">One OpenSSH public key line (<c>ssh-ed25519 AAAA... comment</c>).</param>
    /// <param name="expires">When OS Login stops accepting the key.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="GoogleApiException">The call failed (PERMISSION_DENIED without <c>roles/compute.osAdminLogin</c> or <c>osLogin</c>, INVALID_ARGUMENT for a malformed key).</exception>
    public Task<ImportSshPublicKeyResponse> ImportSshPublicKeyAsync(string user, string publicKey, DateTimeOffset expires, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(publicKey);
        var body = new SshPublicKey { Key = publicKey.Trim(), ExpirationTimeUsec = ToUsec(expires) };
        return transport.SendJsonAsync<ImportSshPublicKeyResponse>(
            HttpMethod.Post, new Uri(baseUri, $"v1/{UserName(user)}:importSshPublicKey?projectId={Uri.EscapeDataString(project)}"), body, idempotent: true, cancellationToken);
    }

    /// <summary><c>GET v1/users/{user}/loginProfile?projectId=P</c>: the user's POSIX accounts and SSH keys.</summary>
    /// <param name="user">The user's email.</param>
    /// <param name="systemId">Narrows the POSIX accounts to one system id; null for all.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<LoginProfile> GetLoginProfileAsync(string user, string? systemId, CancellationToken cancellationToken)
    {
        var query = $"projectId={Uri.EscapeDataString(project)}";
        if (!string.IsNullOrEmpty(systemId))
        {
            query += $"&systemId={Uri.EscapeDataString(systemId)}";
        }

        return transport.SendJsonAsync<LoginProfile>(HttpMethod.Get, new Uri(baseUri, $"v1/{UserName(user)}/loginProfile?{query}"), null, idempotent: true, cancellationToken);
    }

    /// <summary>Microseconds since the Unix epoch, the unit of <c>expirationTimeUsec</c>.</summary>
    public static long ToUsec(DateTimeOffset time) => (time - DateTimeOffset.UnixEpoch).Ticks / (TimeSpan.TicksPerMillisecond / 1000);

    /// <summary>The time an <c>expirationTimeUsec</c> stands for.</summary>
    public static DateTimeOffset FromUsec(long usec) => DateTimeOffset.UnixEpoch.AddTicks(usec * (TimeSpan.TicksPerMillisecond / 1000));

    /// <summary><c>users/{email}</c>, the email escaped as one path segment (its <c>@</c> stays readable).</summary>
    private static string UserName(string user)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(user);
        if (user.Contains('/', StringComparison.Ordinal) || !user.Contains('@', StringComparison.Ordinal))
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"'{user}' is not an account email"), nameof(user));
        }

        return "users/" + Uri.EscapeDataString(user).Replace("%40", "@", StringComparison.Ordinal);
    }
}
