namespace SpotJax.Ssh;

/// <summary>Local mode's key source: a private key file, read on every launch so that a replaced key is picked up.</summary>
public sealed class FileSshKeySource(string path) : ISshKeySource
{
    /// <inheritdoc />
    public async Task<byte[]> GetPrivateKeyAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await File.ReadAllBytesAsync(path, cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"cannot read the SSH private key {path}: {e.Message}", e);
        }
    }
}
