using System.Globalization;

namespace SpotJax.Functions.Local;

/// <summary>What a scan of a code folder found: the files to pack, their total size, and what it leaves out and why.</summary>
/// <param name="Files">Paths relative to the folder, with <c>/</c>.</param>
/// <param name="Bytes">Total size of the regular files, before compression.</param>
/// <param name="Special">Sockets, FIFOs and devices: not files, never packed.</param>
/// <param name="OutsideLinks">Symbolic links that are absolute or lead out of the folder: the agent would refuse them.</param>
/// <param name="FolderBytes">Size of each folder (relative path, subfolders included), to name the biggest.</param>
public sealed record CodeScan(
    IReadOnlyList<string> Files, long Bytes, IReadOnlyList<string> Special, IReadOnlyList<string> OutsideLinks, IReadOnlyDictionary<string, long> FolderBytes);

/// <summary>A packed code folder.</summary>
/// <param name="Folder">The folder packed.</param>
/// <param name="Archive">The <c>.tar.gz</c>.</param>
/// <param name="FileCount">Files (and links) packed.</param>
/// <param name="Bytes">Their size before compression.</param>
/// <param name="Special">Sockets, FIFOs and devices left out.</param>
/// <param name="OutsideLinks">Links left out because they lead out of the folder.</param>
public sealed record PackedCode(string Folder, byte[] Archive, int FileCount, long Bytes, IReadOnlyList<string> Special, IReadOnlyList<string> OutsideLinks)
{
    private const int Named = 3;

    /// <summary>Lines for the user: the size and file count, then one line per kind of thing left out.</summary>
    public IEnumerable<string> Describe()
    {
        var count = FileCount.ToString(CultureInfo.InvariantCulture);
        yield return $"packed {Folder}: {count} files, {Sizes.Format(Bytes)} ({Sizes.Format(Archive.Length)} compressed)";
        if (Special.Count > 0)
        {
            yield return $"left out {Special.Count.ToString(CultureInfo.InvariantCulture)} that are not regular files (sockets, FIFOs, devices): {Sample(Special)}";
        }

        if (OutsideLinks.Count > 0)
        {
            yield return $"left out {OutsideLinks.Count.ToString(CultureInfo.InvariantCulture)} symbolic links that lead out of the folder: {Sample(OutsideLinks)}";
        }
    }

    private static string Sample(IReadOnlyList<string> paths)
    {
        var named = string.Join(", ", paths.Order(StringComparer.Ordinal).Take(Named));
        return paths.Count > Named ? $"{named}, ..." : named;
    }
}

/// <summary>Where code went: its <c>gs://</c> URI, and what was packed when it was a local folder.</summary>
public sealed record UploadedCode(string Uri, PackedCode? Packed);
