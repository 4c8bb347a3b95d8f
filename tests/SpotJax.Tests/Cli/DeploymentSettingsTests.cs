using System.Text;
using SpotJax.Cli;
using SpotJax.Core;

namespace SpotJax.Tests.Cli;

/// <summary>How the command line chooses a Google Cloud deployment's topics and database from its bucket's descriptor or the environment.</summary>
public sealed class DeploymentSettingsTests
{
    private static Func<string, string?> Environment(string? prefix = null, string? database = null) => name => name switch
    {
        DeploymentSettings.NamePrefixVariable => prefix,
        DeploymentSettings.FirestoreDatabaseVariable => database,
        _ => null,
    };

    [Fact]
    public void From_Descriptor_WinsOverTheEnvironment()
    {
        var descriptor = new DeploymentDescriptor("staging", "staging", "spotjax-staging").ToJson();

        var settings = DeploymentSettings.From("b", descriptor, Environment("other", "other-db"));

        Assert.Equal((new Topics("staging"), "spotjax-staging"), (settings.Topics, settings.FirestoreDatabase));
        Assert.Equal("gs://b/deployment.json: name prefix staging, deployment staging, Firestore database spotjax-staging", settings.Source);
    }

    [Fact]
    public void From_NoDescriptorNoVariables_IsTheDefaults()
    {
        var settings = DeploymentSettings.From("b", null, Environment());

        Assert.Equal((Topics.Default, "(default)"), (settings.Topics, settings.FirestoreDatabase));
        Assert.StartsWith("no gs://b/deployment.json (a deployment made before it)", settings.Source, StringComparison.Ordinal);
        Assert.EndsWith("from the defaults", settings.Source, StringComparison.Ordinal);
    }

    [Fact]
    public void From_NoDescriptor_TakesTheVariables()
    {
        var settings = DeploymentSettings.From("b", null, Environment("staging", "spotjax-staging"));

        Assert.Equal((new Topics("staging"), "spotjax-staging"), (settings.Topics, settings.FirestoreDatabase));
        Assert.EndsWith($"from {DeploymentSettings.NamePrefixVariable}/{DeploymentSettings.FirestoreDatabaseVariable}", settings.Source, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"version":2,"namePrefix":"staging","deployment":"staging","firestoreDatabase":"(default)"}""", "version 2")]
    [InlineData("""{"version":1,"namePrefix":"staging-","deployment":"staging","firestoreDatabase":"(default)"}""", "'staging-' is not a name prefix")]
    [InlineData("not json", "not JSON")]
    public void From_MalformedDescriptor_IsAClearErrorNamingTheObject(string json, string message)
    {
        var error = Assert.Throws<CliException>(() => DeploymentSettings.From("b", Encoding.UTF8.GetBytes(json), Environment()));

        Assert.Equal(ExitCodes.Unavailable, error.ExitCode);
        Assert.StartsWith("gs://b/deployment.json cannot be read: ", error.Message, StringComparison.Ordinal);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Staging", null, DeploymentSettings.NamePrefixVariable)]
    [InlineData(null, "db", DeploymentSettings.FirestoreDatabaseVariable)]
    public void From_MalformedVariable_IsAUsageErrorNamingIt(string? prefix, string? database, string variable)
    {
        var error = Assert.Throws<CliException>(() => DeploymentSettings.From("b", null, Environment(prefix, database)));

        Assert.Equal(ExitCodes.Usage, error.ExitCode);
        Assert.StartsWith($"{variable}=", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Variables_AreTheFunctionsOwn()
    {
        Assert.Equal(SpotJax.Functions.Host.Deployment.NamePrefixVariable, DeploymentSettings.NamePrefixVariable);
        Assert.Equal(SpotJax.Functions.Host.Deployment.FirestoreDatabaseVariable, DeploymentSettings.FirestoreDatabaseVariable);
    }
}
