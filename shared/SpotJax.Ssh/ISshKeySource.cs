namespace SpotJax.Ssh;

/// <summary>Where the private key that <c>launch</c> logs in with comes from.</summary>
public interface ISshKeySource
{
    /// <summary>The private key in OpenSSH or PEM format (ed25519, ECDSA or RSA, without a passphrase).</summary>
    Task<byte[]> GetPrivateKeyAsync(CancellationToken cancellationToken);
}
