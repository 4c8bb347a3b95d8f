using System.Text.Json.Serialization;

namespace SpotJax.Google.OsLogin;

/// <summary>
/// <c>google.cloud.oslogin.common.SshPublicKey</c> (googleapis google/cloud/oslogin/common/common.proto):
/// the key text in OpenSSH format and its expiry in microseconds since the epoch; <c>fingerprint</c>
/// (SHA-256) and <c>name</c> are output only.
/// </summary>
public sealed record SshPublicKey
{
    [JsonPropertyName("key")] public string? Key { get; init; }

    /// <summary>int64, so a decimal string in proto3 JSON; 0 or absent means no expiry.</summary>
    [JsonPropertyName("expirationTimeUsec")]
    [JsonNumberHandling(JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.WriteAsString)]
    public long? ExpirationTimeUsec { get; init; }

    [JsonPropertyName("fingerprint")] public string? Fingerprint { get; init; }

    [JsonPropertyName("name")] public string? Name { get; init; }
}

/// <summary><c>google.cloud.oslogin.common.PosixAccount</c> (common.proto): one POSIX account of a login profile.</summary>
public sealed record PosixAccount
{
    /// <summary>At most one account of a profile is primary; its <see cref="Username"/> is the one to log in as.</summary>
    [JsonPropertyName("primary")] public bool Primary { get; init; }

    [JsonPropertyName("username")] public string? Username { get; init; }

    [JsonPropertyName("uid")]
    [JsonNumberHandling(JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.WriteAsString)]
    public long? Uid { get; init; }

    [JsonPropertyName("gid")]
    [JsonNumberHandling(JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.WriteAsString)]
    public long? Gid { get; init; }

    [JsonPropertyName("homeDirectory")] public string? HomeDirectory { get; init; }

    [JsonPropertyName("shell")] public string? Shell { get; init; }

    [JsonPropertyName("gecos")] public string? Gecos { get; init; }

    [JsonPropertyName("systemId")] public string? SystemId { get; init; }

    [JsonPropertyName("accountId")] public string? AccountId { get; init; }

    /// <summary><c>LINUX</c>, <c>WINDOWS</c> or <c>OPERATING_SYSTEM_TYPE_UNSPECIFIED</c> (enums travel as names).</summary>
    [JsonPropertyName("operatingSystemType")] public string? OperatingSystemType { get; init; }

    [JsonPropertyName("name")] public string? Name { get; init; }
}

/// <summary><c>google.cloud.oslogin.v1.LoginProfile</c> (google/cloud/oslogin/v1/oslogin.proto).</summary>
public sealed record LoginProfile
{
    /// <summary>The user's unique id (for a service account, its numeric unique id or email).</summary>
    [JsonPropertyName("name")] public string? Name { get; init; }

    [JsonPropertyName("posixAccounts")] public IReadOnlyList<PosixAccount>? PosixAccounts { get; init; }

    /// <summary>Keyed by the key's SHA-256 fingerprint.</summary>
    [JsonPropertyName("sshPublicKeys")] public IReadOnlyDictionary<string, SshPublicKey>? SshPublicKeys { get; init; }

    /// <summary>The primary POSIX account (for Linux, when several are marked, the first), or null when the profile has none.</summary>
    [JsonIgnore]
    public PosixAccount? PrimaryAccount =>
        PosixAccounts?.FirstOrDefault(a => a.Primary && !string.IsNullOrEmpty(a.Username) && a.OperatingSystemType is null or "LINUX" or "OPERATING_SYSTEM_TYPE_UNSPECIFIED");
}

/// <summary><c>google.cloud.oslogin.v1.ImportSshPublicKeyResponse</c> (oslogin.proto).</summary>
public sealed record ImportSshPublicKeyResponse
{
    [JsonPropertyName("loginProfile")] public LoginProfile? LoginProfile { get; init; }

    [JsonPropertyName("details")] public string? Details { get; init; }
}
