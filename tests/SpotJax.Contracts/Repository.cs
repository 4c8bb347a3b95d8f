using System.Reflection;

namespace SpotJax.Contracts;

/// <summary>Where the repository is, recorded at build time (the test binaries may be built elsewhere).</summary>
public static class Repository
{
    public static string Root { get; } = typeof(Repository).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "RepositoryRoot").Value!;
}
