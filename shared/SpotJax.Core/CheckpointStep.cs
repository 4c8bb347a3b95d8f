using System.Globalization;
using System.Text.RegularExpressions;

namespace SpotJax.Core;

/// <summary>
/// The training step a checkpoint object belongs to, read from its name below the job's checkpoint
/// folder. <c>bucket-events</c> records it for the job and the status page charts it, both by this
/// one rule.
/// </summary>
/// <remarks>
/// <para>The rule, over the name split at <c>/</c> (empty parts dropped):</para>
/// <list type="number">
/// <item>An object with a temporary part anywhere in its name has no step: a part that contains
/// <c>.orbax-checkpoint-tmp</c> (Orbax's unfinished save), is <c>tmp</c>/<c>temp</c>, starts with
/// <c>tmp</c>/<c>temp</c> and a separator (<c>tmp_</c> is PaxML's), ends in <c>.tmp</c>/<c>_tmp</c>/
/// <c>-tmp</c>, or is hidden (a leading dot: a half-written file before its rename).</item>
/// <item>If a folder is named <c>checkpoints</c>, only the parts after the last such folder are
/// searched (MaxText's <c>&lt;run_name&gt;/checkpoints/&lt;step&gt;/</c>, whatever digits the run
/// name has).</item>
/// <item>The step is the first folder, from the top, that names a step: all digits
/// (<c>1000</c>, <c>00000120</c>), or <c>checkpoint</c>/<c>ckpt</c>/<c>step</c> with an optional
/// <c>_</c> or <c>-</c> and digits (<c>checkpoint_75</c>). The first, not the deepest, because what
/// a framework writes inside a step folder may have numeric names of its own (a list-shaped
/// PyTree's <c>0/</c>, TensorStore chunk folders).</item>
/// <item>Otherwise the file itself, when it names a step with an optional extension
/// (<c>step_00000120.json</c>). A file of bare digits does not: inside a step folder those are
/// chunks or hashes.</item>
/// </list>
/// <para>More than 12 digits never make a step: such numbers are timestamps, ids or hashes.
/// Everything else (<c>final.json</c>, <c>run-2024-07-01/</c>, <c>ocdbt.process_0</c>,
/// <c>d/9f3a...</c>) is not a step.</para>
/// <para>Only an unfinished save in a temporary folder can be told by its name. Orbax uses one
/// where the file system renames atomically (a local folder); on <c>gs://</c> it writes straight
/// into <c>&lt;step&gt;/</c> and marks the end with <c>&lt;step&gt;/commit_success.txt</c>, so
/// there the step of a save in flight counts from its first object.</para>
/// </remarks>
public static partial class CheckpointStep
{
    /// <summary>
    /// The step of the object named <paramref name="nameInCheckpointDir"/> (its path below the
    /// checkpoint folder), or null when the name holds no step or lies in a temporary folder.
    /// </summary>
    public static long? Of(string nameInCheckpointDir)
    {
        ArgumentNullException.ThrowIfNull(nameInCheckpointDir);
        var parts = nameInCheckpointDir.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0 || parts.Any(IsTemporary))
        {
            return null;
        }

        var folders = parts[..^1];
        var start = Array.FindLastIndex(folders, p => p.Equals("checkpoints", StringComparison.OrdinalIgnoreCase)) + 1;
        foreach (var folder in folders[start..])
        {
            if (StepFolder().Match(folder) is { Success: true } match)
            {
                return Parse(match);
            }
        }

        return StepFile().Match(parts[^1]) is { Success: true } file ? Parse(file) : null;
    }

    private static bool IsTemporary(string part) =>
        part.StartsWith('.') ||
        part.Contains(".orbax-checkpoint-tmp", StringComparison.Ordinal) ||
        TemporaryName().IsMatch(part);

    private static long Parse(Match match) => long.Parse(match.Groups["step"].Value, NumberStyles.None, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^(?:(?:checkpoint|ckpt|step)[_-]?)?(?<step>[0-9]{1,12})$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex StepFolder();

    [GeneratedRegex(@"^(?:checkpoint|ckpt|step)[_-]?(?<step>[0-9]{1,12})(?:\.[A-Za-z0-9]+)*$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex StepFile();

    [GeneratedRegex(@"^te?mp$|^te?mp[._-]|[._-]te?mp$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex TemporaryName();
}
