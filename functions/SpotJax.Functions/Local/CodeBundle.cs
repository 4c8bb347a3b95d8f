using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using SpotJax.Core;
using SpotJax.Core.Ports;

namespace SpotJax.Functions.Local;

/// <summary>
/// Packs a code folder as the tarball the node agent unpacks, leaving out what is never code:
/// version control, virtual environments (any folder holding a <c>pyvenv.cfg</c>), caches, what the
/// folder's <c>.gitignore</c> and <c>.spotjaxignore</c> files ignore, and what is not a file at all
/// (sockets, FIFOs, devices) or a link the agent would refuse (absolute, or leading out of the folder).
/// </summary>
public static class CodeBundle
{
    /// <summary>The ignore file read beside <c>.gitignore</c>, with the same syntax, for what git keeps but a TPU needs not.</summary>
    public const string SpotJaxIgnoreFile = ".spotjaxignore";

    private const string GitIgnoreFile = ".gitignore";

    private static readonly HashSet<string> Skipped = new(StringComparer.Ordinal)
    {
        ".git", ".hg", ".svn", ".venv", "venv", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox", ".nox",
        ".ipynb_checkpoints", "node_modules", ".spotjax",
    };

    /// <summary>Packs <paramref name="folder"/> with the default options.</summary>
    public static Task<PackedCode> PackAsync(string folder, CancellationToken ct) => PackAsync(folder, new CodeBundleOptions(), ct);

    /// <summary>Packs <paramref name="folder"/>: every file <see cref="Scan"/> keeps, in name order.</summary>
    /// <exception cref="CodeBundleException">The folder is larger than <see cref="CodeBundleOptions.MaxBytes"/>, or a file cannot be read.</exception>
    public static async Task<PackedCode> PackAsync(string folder, CodeBundleOptions options, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(options);
        var scan = Scan(folder);
        if (scan.Bytes > options.MaxBytes)
        {
            throw new CodeBundleException(TooLarge(folder, scan, options.MaxBytes));
        }

        using var buffer = new MemoryStream();
        await using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        await using (var tar = new TarWriter(gzip, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var relative in scan.Files.Order(StringComparer.Ordinal))
            {
                try
                {
                    await tar.WriteEntryAsync(Path.Combine(folder, relative), relative, ct);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
                {
                    throw new CodeBundleException($"cannot pack {Path.Combine(folder, relative)}: {e.Message}; make it readable, or list it in {SpotJaxIgnoreFile} to leave it out");
                }
            }
        }

        return new PackedCode(folder, buffer.ToArray(), scan.Files.Count, scan.Bytes, scan.Special, scan.OutsideLinks);
    }

    /// <summary>
    /// Puts a local code folder (packed) or tarball into the bucket as <c>code/&lt;sha256&gt;.tar.gz</c>
    /// and returns its <c>gs://</c> URI; a <c>gs://</c> value is returned unchanged. The name is the
    /// content's hash, so an unchanged folder is not uploaded twice.
    /// </summary>
    /// <exception cref="CodeBundleException">The folder or file does not exist, or cannot be packed.</exception>
    public static async Task<UploadedCode> UploadAsync(IObjectStore objects, string code, CodeBundleOptions options, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(objects);
        ArgumentNullException.ThrowIfNull(code);
        ArgumentNullException.ThrowIfNull(options);
        if (code.StartsWith("gs://", StringComparison.Ordinal))
        {
            return new UploadedCode(code, null);
        }

        PackedCode? packed = null;
        byte[] bundle;
        if (Directory.Exists(code))
        {
            packed = await PackAsync(code, options, ct);
            bundle = packed.Archive;
        }
        else if (File.Exists(code))
        {
            bundle = await File.ReadAllBytesAsync(code, ct);
        }
        else
        {
            throw new CodeBundleException($"code folder {code} does not exist; fix `code:` in the job file (a folder, relative to the job file, or a gs:// URI)");
        }

        var name = $"{BucketLayout.CodePrefix}{Convert.ToHexStringLower(SHA256.HashData(bundle))}.tar.gz";
        if (!(await objects.ListAsync(name, ct)).Any(o => o.Name == name))
        {
            await objects.PutAsync(name, bundle, ct);
        }

        return new UploadedCode(BucketLayout.GsUri(objects.Bucket, name), packed);
    }

    /// <summary>The files that go into the bundle, relative to <paramref name="folder"/> with <c>/</c>.</summary>
    public static IReadOnlyList<string> Files(string folder) => Scan(folder).Files;

    /// <summary>What packing <paramref name="folder"/> would take and leave out, without reading any file's content.</summary>
    public static CodeScan Scan(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        var scan = new Scanner(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)));
        scan.Walk(scan.Root, "", GitIgnore.Empty);
        return new CodeScan(scan.Files, scan.Bytes, scan.Special, scan.OutsideLinks, scan.FolderBytes);
    }

    private static string TooLarge(string folder, CodeScan scan, long limit)
    {
        var biggest = scan.FolderBytes
            .OrderByDescending(f => f.Value)
            .ThenBy(f => f.Key, StringComparer.Ordinal)
            .Take(5)
            .Select(f => $"{f.Key}/ {Sizes.Format(f.Value)}")
            .ToList();
        var where = biggest.Count > 0 ? $"biggest folders: {string.Join(", ", biggest)}" : "all of it in files at its top";
        return $"the code folder {folder} holds {Sizes.Format(scan.Bytes)} in {scan.Files.Count} files, over the {Sizes.Format(limit)} limit; " +
               $"{where}. " +
               $"Leave out what the script does not need by listing it in {Path.Combine(folder, SpotJaxIgnoreFile)} (.gitignore syntax, e.g. `data/`), " +
               $"or raise the limit with --max-code-size or {CodeBundleOptions.MaxBytesVariable}";
    }

    private sealed class Scanner(string root)
    {
        public string Root { get; } = root;
        public List<string> Files { get; } = [];
        public List<string> Special { get; } = [];
        public List<string> OutsideLinks { get; } = [];
        public Dictionary<string, long> FolderBytes { get; } = new(StringComparer.Ordinal);
        public long Bytes { get; private set; }

        public void Walk(string folder, string relative, GitIgnore ignore)
        {
            var rules = WithIgnoreFile(WithIgnoreFile(ignore, folder, relative, GitIgnoreFile), folder, relative, SpotJaxIgnoreFile);
            IEnumerable<FileSystemInfo> entries;
            try
            {
                entries = new DirectoryInfo(folder).EnumerateFileSystemInfos().ToList();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CodeBundleException($"cannot read the folder {folder}: {e.Message}; make it readable, or list it in {SpotJaxIgnoreFile} to leave it out");
            }

            foreach (var entry in entries.OfType<FileInfo>())
            {
                var name = Join(relative, entry.Name);
                if (rules.Ignores(name, isFolder: false))
                {
                    continue;
                }

                if (entry.LinkTarget is { } target)
                {
                    // The agent refuses links that leave the code folder, and their content must not leave this machine.
                    if (Path.IsPathRooted(target) || !IsInside(Path.GetFullPath(Path.Combine(folder, target))))
                    {
                        OutsideLinks.Add(name);
                    }
                    else
                    {
                        Files.Add(name);
                    }

                    continue;
                }

                if (entry.Length == 0 && !IsRegularFile(entry.FullName))
                {
                    Special.Add(name);
                    continue;
                }

                Files.Add(name);
                Bytes += entry.Length;
                for (var at = relative; at.Length > 0; at = at.Contains('/', StringComparison.Ordinal) ? at[..at.LastIndexOf('/')] : "")
                {
                    FolderBytes[at] = FolderBytes.GetValueOrDefault(at) + entry.Length;
                }
            }

            foreach (var sub in entries.OfType<DirectoryInfo>())
            {
                var name = Join(relative, sub.Name);
                if (Skipped.Contains(sub.Name) || sub.LinkTarget is not null ||
                    File.Exists(Path.Combine(sub.FullName, "pyvenv.cfg")) || rules.Ignores(name, isFolder: true))
                {
                    continue;
                }

                Walk(sub.FullName, name, rules);
            }
        }

        private bool IsInside(string path) => path.StartsWith(Root + Path.DirectorySeparatorChar, StringComparison.Ordinal);

        private static GitIgnore WithIgnoreFile(GitIgnore rules, string folder, string relative, string fileName)
        {
            // Only a regular file is read: a FIFO named .gitignore would block the read forever.
            var file = new FileInfo(Path.Combine(folder, fileName));
            return file.Exists && file.LinkTarget is null && file.Length > 0
                ? rules.With(relative, File.ReadAllText(file.FullName))
                : rules;
        }
    }

    /// <summary>
    /// Whether an empty-looking file is a regular one, asking the tar writer itself: .NET has no public
    /// file-type query, and sockets, FIFOs and devices all report a length of 0, as an empty file does.
    /// </summary>
    private static bool IsRegularFile(string path)
    {
        try
        {
            using var scratch = new MemoryStream();
            using (var writer = new TarWriter(scratch, TarEntryFormat.Pax, leaveOpen: true))
            {
                writer.WriteEntry(path, "probe");
            }

            scratch.Position = 0;
            using var reader = new TarReader(scratch);
            return reader.GetNextEntry()?.EntryType == TarEntryType.RegularFile;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or InvalidOperationException or UnauthorizedAccessException)
        {
            // A socket ("not supported for tar archiving"), or something gone or unreadable: not a file to pack.
            return false;
        }
    }

    private static string Join(string relative, string name) => relative.Length == 0 ? name : $"{relative}/{name}";
}
