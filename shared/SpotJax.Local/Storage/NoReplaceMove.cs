using System.Runtime.InteropServices;

namespace SpotJax.Local.Storage;

/// <summary>
/// Moves a file to a name only when nothing has that name, in one step that other processes cannot
/// come between. On Unix, .NET's <c>File.Move(source, target, overwrite: false)</c> looks for the
/// target and then renames over it: two steps. A hard link is one, and fails when the target exists.
/// </summary>
internal static partial class NoReplaceMove
{
    private const int EExist = 17;

    /// <summary>
    /// Gives <paramref name="target"/> the content of <paramref name="source"/>; false when
    /// <paramref name="target"/> exists. The caller removes <paramref name="source"/>, which may remain.
    /// </summary>
    /// <exception cref="IOException">Neither moved nor found to exist.</exception>
    public static bool TryMove(string source, string target)
    {
        if (!OperatingSystem.IsWindows())
        {
            if (Link(source, target) == 0)
            {
                return true;
            }

            if (Marshal.GetLastPInvokeError() == EExist)
            {
                return false;
            }

            // A file system without hard links (EPERM, ENOTSUP, ...): the two steps are all there is.
        }

        try
        {
            // On Windows one step: MoveFileEx without MOVEFILE_REPLACE_EXISTING.
            File.Move(source, target, overwrite: false);
            return true;
        }
        catch (IOException) when (File.Exists(target))
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Link(string oldPath, string newPath);
}
