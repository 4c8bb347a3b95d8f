using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using SpotJax.Core;
using SpotJax.Core.Ports;

namespace SpotJax.Functions.Local;

/// <summary>
/// Packs a code folder as the tarball the node agent unpacks, leaving out what is never code:
/// version control, virtual environments (any folder holding a <c>pyvenv.cfg</c>), caches, and
/// whatever the folder's <c>.gitignore</c> files ignore.
/// </summary>
public static class CodeBundle
{
    private const string GitIgnoreFile = ".gitignore";

    private static readonly HashSet<string> Skipped = new(StringComparer.Ordinal)
    {
        ".git", ".hg", ".svn", ".venv", "venv", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox", ".nox",
        ".ipynb_checkpoints", "node_modules", ".spotjax",
    };

    public static async Task<byte[]> PackAsync(string folder, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        await using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        await using (var tar = new TarWriter(gzip, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var relative in Files(folder).Order(StringComparer.Ordinal))
            {
                await tar.WriteEntryAsync(Path.Combine(folder, relative), relative, ct);
            }
        }

        return buffer.ToArray();
    }

    /// <summary>
    /// Puts a local code folder (packed) or tarball into the bucket as <c>code/&lt;sha256&gt;.tar.gz</c>
    /// and returns its <c>gs://</c> URI; a <c>gs://</c> value is returned unchanged. The name is the
    /// content's hash, so an unchanged folder is not uploaded twice.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The folder or file does not exist.</exception>
    public static async Task<string> UploadAsync(IObjectStore objects, string code, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(objects);
        ArgumentNullException.ThrowIfNull(code);
        if (code.StartsWith("gs://", StringComparison.Ordinal))
        {
            return code;
        }

        byte[] bundle;
        if (Directory.Exists(code))
        {
            bundle = await PackAsync(code, ct);
        }
        else if (File.Exists(code))
        {
            bundle = await File.ReadAllBytesAsync(code, ct);
        }
        else
        {
            throw new DirectoryNotFoundException($"code folder {code} does not exist");
        }

        var name = $"{BucketLayout.CodePrefix}{Convert.ToHexStringLower(SHA256.HashData(bundle))}.tar.gz";
        if (!(await objects.ListAsync(name, ct)).Any(o => o.Name == name))
        {
            await objects.PutAsync(name, bundle, ct);
        }

        return BucketLayout.GsUri(objects.Bucket, name);
    }

    /// <summary>The files that go into the bundle, relative to <paramref name="folder"/> with <c>/</c>.</summary>
    public static IReadOnlyList<string> Files(string folder)
    {
        var files = new List<string>();
        Walk(folder, "", GitIgnore.Empty, files);
        return files;
    }

    private static void Walk(string folder, string relative, GitIgnore ignore, List<string> files)
    {
        var rules = File.Exists(Path.Combine(folder, GitIgnoreFile))
            ? ignore.With(relative, File.ReadAllText(Path.Combine(folder, GitIgnoreFile)))
            : ignore;
        foreach (var file in Directory.EnumerateFiles(folder))
        {
            var name = Join(relative, Path.GetFileName(file));
            if (!rules.Ignores(name, isFolder: false))
            {
                files.Add(name);
            }
        }

        foreach (var sub in Directory.EnumerateDirectories(folder))
        {
            var name = Join(relative, Path.GetFileName(sub));
            if (Skipped.Contains(Path.GetFileName(sub)) || new DirectoryInfo(sub).LinkTarget is not null ||
                File.Exists(Path.Combine(sub, "pyvenv.cfg")) || rules.Ignores(name, isFolder: true))
            {
                continue;
            }

            Walk(sub, name, rules, files);
        }
    }

    private static string Join(string relative, string name) => relative.Length == 0 ? name : $"{relative}/{name}";
}
