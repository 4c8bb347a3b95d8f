using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace SpotJax.TpuSimulation;

/// <summary>
/// The stand-in for what OS Login needs: Cloud OS Login v1 <c>users.importSshPublicKey</c> and
/// <c>users.getLoginProfile</c> (google/cloud/oslogin/v1/oslogin.proto, common/common.proto), Compute
/// Engine <c>projects.get</c> with <c>commonInstanceMetadata</c>, Org Policy v2
/// <c>projects.policies.getEffectivePolicy</c>, and the guest's key lookup (<c>oslogin/users?username=</c>)
/// that an sshd <c>AuthorizedKeysCommand</c> asks. Accounts are seeded with a bearer token: a call
/// carries an account's token (401 otherwise) and imports keys only for that same account (403).
/// Imported keys are kept with their expiry, on the simulator's clock; an expired key is no longer in
/// any answer.
/// </summary>
/// <remarks>
/// Unconfirmed details of the real service, chosen strictly here: an expiry in the past is refused
/// (INVALID_ARGUMENT), the fingerprint is the hex SHA-256 of the key blob, and expired keys are left
/// out of profiles.
/// </remarks>
internal sealed partial class SimulatedOsLogin(TimeProvider time)
{
    private static readonly HashSet<string> KeyTypes = new(StringComparer.Ordinal)
    {
        "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
    };

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Account> _accounts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<string, string>> _projectMetadata = new(StringComparer.Ordinal);
    private readonly HashSet<string> _requireOsLogin = new(StringComparer.Ordinal);

    /// <summary>Seeds an account; its POSIX username in every project is <paramref name="username"/>.</summary>
    public void AddAccount(string email, string username, long uid, string token)
    {
        if (!EmailShape().IsMatch(email) || !PosixNameShape().IsMatch(username) || uid < 1000 || string.IsNullOrWhiteSpace(token))
        {
            throw SimulatorApiException.InvalidArgument($"'{email}', '{username}', {uid}: not an account email, a POSIX user name and a uid of 1000 or more with a token.");
        }

        lock (_gate)
        {
            _accounts[email] = new Account(email, username, uid, token);
        }
    }

    /// <summary>Sets a project metadata item (for <c>enable-oslogin</c>).</summary>
    public void SetProjectMetadata(string project, string key, string value)
    {
        lock (_gate)
        {
            if (!_projectMetadata.TryGetValue(project, out var items))
            {
                _projectMetadata[project] = items = new Dictionary<string, string>(StringComparer.Ordinal);
            }

            items[key] = value;
        }
    }

    /// <summary>Enforces (or lifts) <c>constraints/compute.requireOsLogin</c> on a project.</summary>
    public void RequireOsLogin(string project, bool enforced)
    {
        lock (_gate)
        {
            if (enforced)
            {
                _requireOsLogin.Add(project);
            }
            else
            {
                _requireOsLogin.Remove(project);
            }
        }
    }

    /// <summary>The unexpired keys imported for <paramref name="email"/>, with their expiry (<see cref="DateTimeOffset.MaxValue"/> for none).</summary>
    public IReadOnlyDictionary<string, DateTimeOffset> ImportedKeys(string email)
    {
        lock (_gate)
        {
            var now = time.GetUtcNow();
            return _accounts.TryGetValue(email, out var account)
                ? account.Keys.Values.Where(k => k.Expires is null || k.Expires > now).ToDictionary(k => k.Text, k => k.Expires ?? DateTimeOffset.MaxValue, StringComparer.Ordinal)
                : new Dictionary<string, DateTimeOffset>();
        }
    }

    /// <summary><c>POST v1/users/{user}:importSshPublicKey?projectId=P</c>.</summary>
    public JsonObject Import(string user, string? projectId, string? bearer, string body)
    {
        lock (_gate)
        {
            var account = Caller(user, bearer);
            var (text, blob, expires) = ParseKey(body);
            var fingerprint = Convert.ToHexStringLower(SHA256.HashData(blob));
            account.Keys[fingerprint] = new ImportedKey(text, fingerprint, expires);
            return new JsonObject { ["loginProfile"] = Profile(account, projectId) };
        }
    }

    /// <summary><c>GET v1/users/{user}/loginProfile?projectId=P&amp;systemId=S</c>.</summary>
    public JsonObject GetLoginProfile(string user, string? projectId, string? systemId, string? bearer)
    {
        lock (_gate)
        {
            var profile = Profile(Caller(user, bearer), projectId);
            // Every POSIX account here has the default (empty) system id.
            if (!string.IsNullOrEmpty(systemId))
            {
                profile.Remove("posixAccounts");
            }

            return profile;
        }
    }

    /// <summary>The guest's lookup by POSIX name: <c>{"loginProfiles":[profile]}</c> with unexpired keys; null for an unknown name.</summary>
    public JsonObject? LookUp(string username)
    {
        lock (_gate)
        {
            var account = _accounts.Values.FirstOrDefault(a => a.Username == username);
            return account is null ? null : new JsonObject { ["loginProfiles"] = new JsonArray(Profile(account, "-")) };
        }
    }

    /// <summary>Compute Engine <c>GET compute/v1/projects/{project}</c>, the fields read by SpotJax and a few more.</summary>
    public JsonObject GetComputeProject(string project, string? bearer)
    {
        lock (_gate)
        {
            Authenticated(bearer);
            var items = new JsonArray();
            foreach (var (key, value) in _projectMetadata.GetValueOrDefault(project) ?? [])
            {
                items.Add(new JsonObject { ["key"] = key, ["value"] = value });
            }

            return new JsonObject
            {
                ["kind"] = "compute#project",
                ["name"] = project,
                ["commonInstanceMetadata"] = new JsonObject
                {
                    ["kind"] = "compute#metadata",
                    ["fingerprint"] = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(items.ToJsonString()))[..8]),
                    ["items"] = items,
                },
            };
        }
    }

    /// <summary>Org Policy v2 <c>GET v2/projects/{project}/policies/{constraint}:getEffectivePolicy</c>.</summary>
    public JsonObject GetEffectivePolicy(string project, string constraint, string? bearer)
    {
        lock (_gate)
        {
            Authenticated(bearer);
            if (!ConstraintShape().IsMatch(constraint))
            {
                throw SimulatorApiException.InvalidArgument($"Invalid constraint name '{constraint}'.");
            }

            var enforced = constraint == "compute.requireOsLogin" && _requireOsLogin.Contains(project);
            return new JsonObject
            {
                ["name"] = $"projects/{project}/policies/{constraint}",
                ["spec"] = new JsonObject { ["rules"] = new JsonArray(new JsonObject { ["enforce"] = enforced }) },
            };
        }
    }

    private Account Caller(string user, string? bearer)
    {
        var caller = Authenticated(bearer);
        if (!EmailShape().IsMatch(user))
        {
            throw SimulatorApiException.InvalidArgument($"Invalid resource field value in the request: 'users/{user}' is not users/{{email}}.");
        }

        if (caller.Email != user)
        {
            throw new SimulatorApiException(HttpStatusCode.Forbidden, "PERMISSION_DENIED", $"The caller does not have permission on users/{user}.");
        }

        return caller;
    }

    private Account Authenticated(string? bearer) =>
        _accounts.Values.FirstOrDefault(a => a.Token == bearer)
        ?? throw new SimulatorApiException(HttpStatusCode.Unauthorized, "UNAUTHENTICATED", "Request is missing required authentication credential. Expected OAuth 2 access token.");

    /// <summary>The body, a proto3 JSON <c>SshPublicKey</c>: <c>key</c> required, <c>expirationTimeUsec</c> an int64 (string or number); output-only and unknown fields refused.</summary>
    private (string Text, byte[] Blob, DateTimeOffset? Expires) ParseKey(string body)
    {
        JsonObject key;
        try
        {
            key = JsonNode.Parse(body) as JsonObject ?? throw SimulatorApiException.InvalidArgument("Invalid JSON payload received. The body must be an SshPublicKey object.");
        }
        catch (JsonException problem)
        {
            throw SimulatorApiException.InvalidArgument($"Invalid JSON payload received. {problem.Message}");
        }

        if (key.Select(p => p.Key).FirstOrDefault(name => name is not ("key" or "expirationTimeUsec")) is { } unknown)
        {
            throw SimulatorApiException.InvalidArgument($"Invalid JSON payload received. Unknown or output-only name \"{unknown}\" at 'ssh_public_key'.");
        }

        var text = key["key"] is JsonValue k && k.TryGetValue<string>(out var s) ? s.Trim() : "";
        var parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        byte[] blob;
        try
        {
            blob = parts.Length >= 2 ? Convert.FromBase64String(parts[1]) : [];
        }
        catch (FormatException)
        {
            blob = [];
        }

        if (parts.Length < 2 || !KeyTypes.Contains(parts[0]) || BlobType(blob) != parts[0])
        {
            throw SimulatorApiException.InvalidArgument("Invalid SSH public key: expected '<type> <base64 key> [comment]' of a supported type.");
        }

        DateTimeOffset? expires = null;
        if (key["expirationTimeUsec"] is JsonValue e)
        {
            long usec;
            var ok = e.TryGetValue<string>(out var digits) ? long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out usec) : e.TryGetValue(out usec);
            if (!ok || usec < 0)
            {
                throw SimulatorApiException.InvalidArgument("Invalid value at 'ssh_public_key.expiration_time_usec' (TYPE_INT64).");
            }

            if (usec > 0)
            {
                expires = DateTimeOffset.UnixEpoch.AddTicks(usec * 10);
                if (expires <= time.GetUtcNow())
                {
                    throw SimulatorApiException.InvalidArgument("The SSH public key expiration time is in the past.");
                }
            }
        }

        return (text, blob, expires);
    }

    /// <summary>The first string of an SSH key blob (RFC 4253 section 6.6): its key type.</summary>
    private static string? BlobType(byte[] blob)
    {
        if (blob.Length < 4)
        {
            return null;
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(blob);
        return length <= blob.Length - 4 ? Encoding.ASCII.GetString(blob, 4, (int)length) : null;
    }

    private JsonObject Profile(Account account, string? projectId)
    {
        var now = time.GetUtcNow();
        var keys = new JsonObject();
        foreach (var key in account.Keys.Values.Where(k => k.Expires is null || k.Expires > now))
        {
            var entry = new JsonObject { ["key"] = key.Text, ["fingerprint"] = key.Fingerprint, ["name"] = $"users/{account.Email}/sshPublicKeys/{key.Fingerprint}" };
            if (key.Expires is { } expires)
            {
                entry["expirationTimeUsec"] = ((expires - DateTimeOffset.UnixEpoch).Ticks / 10).ToString(CultureInfo.InvariantCulture);
            }

            keys[key.Fingerprint] = entry;
        }

        var profile = new JsonObject { ["name"] = account.UniqueId, ["sshPublicKeys"] = keys };
        // A POSIX account belongs to a project: without projectId the profile carries none.
        if (!string.IsNullOrEmpty(projectId))
        {
            var uid = account.Uid.ToString(CultureInfo.InvariantCulture);
            profile["posixAccounts"] = new JsonArray(new JsonObject
            {
                ["primary"] = true,
                ["username"] = account.Username,
                ["uid"] = uid,
                ["gid"] = uid,
                ["homeDirectory"] = $"/home/{account.Username}",
                ["shell"] = "/bin/bash",
                ["gecos"] = account.Email,
                ["systemId"] = "",
                ["accountId"] = projectId,
                ["operatingSystemType"] = "LINUX",
                ["name"] = $"users/{account.Email}/projects/{projectId}",
            });
        }

        return profile;
    }

    private sealed record ImportedKey(string Text, string Fingerprint, DateTimeOffset? Expires);

    private sealed record Account(string Email, string Username, long Uid, string Token)
    {
        public Dictionary<string, ImportedKey> Keys { get; } = new(StringComparer.Ordinal);

        /// <summary>A stable 21-digit id, the form of a service account's unique id.</summary>
        public string UniqueId { get; } = "1" + BinaryPrimitives.ReadUInt64BigEndian(SHA256.HashData(Encoding.UTF8.GetBytes(Email))).ToString("D20", CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\z", RegexOptions.CultureInvariant)]
    private static partial Regex EmailShape();

    [GeneratedRegex(@"^[a-z_][a-z0-9_-]{0,31}\z", RegexOptions.CultureInvariant)]
    private static partial Regex PosixNameShape();

    [GeneratedRegex(@"^[a-zA-Z]+\.[a-zA-Z0-9]+\z", RegexOptions.CultureInvariant)]
    private static partial Regex ConstraintShape();
}
