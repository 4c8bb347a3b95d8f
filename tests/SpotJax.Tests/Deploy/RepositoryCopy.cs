using SpotJax.Contracts;

namespace SpotJax.Tests.Deploy;

/// <summary>A copy of the repository's files as a fresh clone has them (plus files not committed yet, less what git ignores).</summary>
internal static class RepositoryCopy
{
    public static async Task<string> CreateAsync(string destination)
    {
        var listing = await Tool.RunAsync("git", ["-C", Repository.Root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"], Repository.Root, new Dictionary<string, string?>());
        Assert.True(listing.ExitCode == 0, $"git ls-files: {listing}");
        foreach (var file in listing.Stdout.Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            var source = Path.Combine(Repository.Root, file);
            if (!File.Exists(source))
            {
                continue; // deleted in the working tree, not committed yet
            }

            var target = Path.Combine(destination, file);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(source, target);
        }

        return destination;
    }
}
