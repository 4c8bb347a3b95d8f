using System.Globalization;
using System.Runtime.InteropServices;

namespace SpotJax.TpuSimulation;

/// <summary>The process groups that node agents registered as <c>worker-*/*.pgid</c> files under a node folder.</summary>
internal static partial class ProcessGroups
{
    private const int SigKill = 9;
    private const int SigTerm = 15;

    // Signalling our own group (a pgid file written without setsid) would take the simulator's host down with it.
    private static readonly int OwnGroup = GetProcessGroup();

    /// <summary>SIGTERM to every registered group of the node, all at once.</summary>
    public static void Terminate(string nodeDirectory)
    {
        foreach (var (_, pgid) in Find(nodeDirectory))
        {
            Signal(pgid, SigTerm);
        }
    }

    /// <summary>
    /// SIGKILL to every registered group of the node, then removes their pgid files: once a group is dead its
    /// number may be recycled for an unrelated process, which must never be signalled.
    /// </summary>
    public static void Kill(string nodeDirectory)
    {
        foreach (var (file, pgid) in Find(nodeDirectory))
        {
            Signal(pgid, SigKill);
            try
            {
                File.Delete(file);
            }
            catch (IOException)
            {
                // The group is dead either way; a leftover file is only untidy.
            }
            catch (UnauthorizedAccessException)
            {
                // As above.
            }
        }
    }

    private static List<(string File, int Pgid)> Find(string nodeDirectory)
    {
        var groups = new List<(string, int)>();
        string[] files;
        try
        {
            files = Directory.Exists(nodeDirectory)
                ? Directory.EnumerateDirectories(nodeDirectory, "worker-*")
                    .SelectMany(worker => Directory.EnumerateFiles(worker, "*.pgid")).ToArray()
                : [];
        }
        catch (IOException)
        {
            // A worker folder removed while we listed it: its groups are gone.
            return groups;
        }

        foreach (var file in files)
        {
            if (TryReadGroup(file) is { } pgid)
            {
                groups.Add((file, pgid));
            }
        }

        return groups;
    }

    private static int? TryReadGroup(string file)
    {
        try
        {
            // pgid 0 and 1 would mean "our group" and "every process" to kill(2).
            return int.TryParse(File.ReadAllText(file).AsSpan().Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pgid)
                && pgid > 1 && pgid != OwnGroup ? pgid : null;
        }
        catch (IOException)
        {
            // Removed while we read it: its group is gone.
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            // Not ours to signal.
            return null;
        }
    }

    private static void Signal(int pgid, int signal)
    {
        // ESRCH (the group already exited) and EPERM (the number now belongs to someone else) both mean
        // there is nothing left for us to stop, so the result is not checked.
        _ = KillNative(-pgid, signal);
    }

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int KillNative(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "getpgrp")]
    private static partial int GetProcessGroup();
}
