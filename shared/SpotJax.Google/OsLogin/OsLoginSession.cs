using System.Net;
using SpotJax.Core.Ports;
using SpotJax.Google.Http;

namespace SpotJax.Google.OsLogin;

/// <summary>How <see cref="OsLoginSession"/> keeps the launch key imported.</summary>
public sealed record OsLoginSessionOptions
{
    /// <summary>The account <c>launch</c> runs as (its service account's email): the OS Login user.</summary>
    public required string User { get; init; }

    /// <summary>The public half of the launch key, one OpenSSH line.</summary>
    public required string PublicKey { get; init; }

    /// <summary>How long an imported key stays valid; short, so that a leaked key soon stops working.</summary>
    public TimeSpan KeyTtl { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// The least validity a key must have left to be used without importing it again: longer than the
    /// connect retry window and one launch, so that a key never expires in the middle of a login.
    /// </summary>
    public TimeSpan RenewMargin { get; init; } = TimeSpan.FromMinutes(10);
}

/// <summary>
/// The OS Login side of a launch: imports the launch key for <see cref="OsLoginSessionOptions.User"/>
/// with a short TTL (again only when less than <see cref="OsLoginSessionOptions.RenewMargin"/> is
/// left), and names the POSIX user to log in as: the primary POSIX account's username of the login
/// profile that the import returns. For a service account that name is chosen by OS Login (typically
/// <c>sa_</c> and the account's unique id); it is read from the profile, never computed.
/// Safe to call from concurrent launches: one import at a time.
/// </summary>
public sealed class OsLoginSession : IDisposable
{
    private readonly OsLoginClient client;
    private readonly OsLoginSessionOptions options;
    private readonly TimeProvider time;
    private readonly SemaphoreSlim gate = new(1, 1);
    private (string Username, DateTimeOffset Expires)? current;

    public OsLoginSession(OsLoginClient client, OsLoginSessionOptions options, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.User);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.PublicKey);
        if (options.KeyTtl <= options.RenewMargin || options.RenewMargin < TimeSpan.Zero)
        {
            throw new ArgumentException($"the key TTL ({options.KeyTtl}) must be longer than the renew margin ({options.RenewMargin}), which must not be negative", nameof(options));
        }

        this.client = client;
        this.options = options;
        this.time = time ?? TimeProvider.System;
    }

    /// <summary>How many imports this session has made (for tests and logs).</summary>
    public int Imports { get; private set; }

    /// <summary>The POSIX user name to log in as, with the key imported for at least the renew margin.</summary>
    /// <exception cref="GoogleApiException">The import or the profile read failed, or the profile has no primary POSIX account.</exception>
    public async Task<string> LoginUserAsync(CancellationToken cancellationToken)
    {
        await gate.WaitAsync(cancellationToken);
        try
        {
            var now = time.GetUtcNow();
            if (current is { } valid && valid.Expires - now > options.RenewMargin)
            {
                return valid.Username;
            }

            var expires = now + options.KeyTtl;
            var imported = await client.ImportSshPublicKeyAsync(options.User, options.PublicKey, expires, cancellationToken);
            Imports++;
            // The answer carries the profile; read it separately only when it came without a POSIX account.
            var account = imported.LoginProfile?.PrimaryAccount
                ?? (await client.GetLoginProfileAsync(options.User, null, cancellationToken)).PrimaryAccount
                ?? throw new GoogleApiException(HttpStatusCode.OK, "FAILED_PRECONDITION",
                    $"the OS Login profile of {options.User} has no primary POSIX account after the key import{(imported.Details is { Length: > 0 } d ? $" ({d})" : "")}");
            current = (account.Username!, expires);
            return account.Username!;
        }
        finally
        {
            gate.Release();
        }
    }

    public void Dispose() => gate.Dispose();
}
