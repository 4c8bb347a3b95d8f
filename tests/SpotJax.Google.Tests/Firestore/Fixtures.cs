namespace SpotJax.Google.Tests.Firestore;

/// <summary>The JSON payloads in <c>Firestore/Fixtures</c>, copied beside the test assembly.</summary>
internal static class Fixtures
{
    public static string Read(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Firestore", "Fixtures", name));
}
