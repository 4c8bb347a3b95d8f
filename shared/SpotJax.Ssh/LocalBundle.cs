using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;

namespace SpotJax.Ssh;

/// <summary>
/// A code bundle on this machine, sent to the workers over SFTP under a name made of its hash so that
/// a repeated launch finds it already there.
/// </summary>
internal sealed record LocalBundle(byte[] Content, string FileName)
{
    /// <summary>A tarball as it is, or a folder packed into a <c>.tar.gz</c>.</summary>
    public static async Task<LocalBundle> LoadAsync(string path, CancellationToken cancellationToken)
    {
        byte[] content;
        string extension;
        if (Directory.Exists(path))
        {
            using var buffer = new MemoryStream();
            await using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
            {
                await TarFile.CreateFromDirectoryAsync(path, gzip, includeBaseDirectory: false, cancellationToken);
            }

            content = buffer.ToArray();
            extension = ".tar.gz";
        }
        else
        {
            content = await File.ReadAllBytesAsync(path, cancellationToken);
            extension = path.EndsWith(".tgz", StringComparison.Ordinal) ? ".tgz"
                : path.EndsWith(".tar", StringComparison.Ordinal) ? ".tar"
                : ".tar.gz";
        }

        return new LocalBundle(content, $"bundle-{Convert.ToHexStringLower(SHA256.HashData(content))}{extension}");
    }
}
