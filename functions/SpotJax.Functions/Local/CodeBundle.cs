using System.Formats.Tar;
using System.IO.Compression;

namespace SpotJax.Functions.Local;

/// <summary>Packs a code folder as the tarball the node agent unpacks, leaving out what is never code.</summary>
public static class CodeBundle
{
    private static readonly HashSet<string> Skipped = new(StringComparer.Ordinal)
    {
        ".git", ".venv", "venv", "__pycache__", ".mypy_cache", ".pytest_cache", ".ipynb_checkpoints", "node_modules",
    };

    public static async Task<byte[]> PackAsync(string folder, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        await using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        await using (var tar = new TarWriter(gzip, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var file in Files(folder).Order(StringComparer.Ordinal))
            {
                var relative = Path.GetRelativePath(folder, file).Replace('\\', '/');
                await tar.WriteEntryAsync(file, relative, ct);
            }
        }

        return buffer.ToArray();
    }

    private static IEnumerable<string> Files(string folder)
    {
        foreach (var file in Directory.EnumerateFiles(folder))
        {
            yield return file;
        }

        foreach (var sub in Directory.EnumerateDirectories(folder))
        {
            if (Skipped.Contains(Path.GetFileName(sub)) || new DirectoryInfo(sub).LinkTarget is not null)
            {
                continue;
            }

            foreach (var file in Files(sub))
            {
                yield return file;
            }
        }
    }
}
