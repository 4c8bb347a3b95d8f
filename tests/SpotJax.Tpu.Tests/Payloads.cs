namespace SpotJax.Tpu.Tests;

/// <summary>The recorded API payloads under Fixtures/, and the project and zone they belong to.</summary>
internal static class Payloads
{
    public const string Project = "spotjax-prod";
    public const string Zone = "us-central2-b";

    public static string Read(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", name));
}
