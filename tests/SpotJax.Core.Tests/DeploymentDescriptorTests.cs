using System.Text;

namespace SpotJax.Core.Tests;

public sealed class DeploymentDescriptorTests
{
    [Fact]
    public void Parse_TheObjectTerraformWrites_GivesThePrefixNameAndDatabase()
    {
        // jsonencode sorts the keys.
        var descriptor = DeploymentDescriptor.Parse("""{"deployment":"staging-eu","firestoreDatabase":"spotjax-staging","namePrefix":"staging","version":1}"""u8);

        Assert.Equal(("staging", "staging-eu", "spotjax-staging"), (descriptor.NamePrefix, descriptor.Deployment, descriptor.FirestoreDatabase));
        Assert.Equal(new Topics("staging"), descriptor.Topics);
    }

    [Fact]
    public void ToJson_ParsesBackToTheSameDescriptorWithExactlyItsJsonNames()
    {
        var descriptor = new DeploymentDescriptor("spotjax", "spotjax", "(default)");

        Assert.Equal(descriptor, DeploymentDescriptor.Parse(descriptor.ToJson()));
        Assert.Equal("""{"version":1,"namePrefix":"spotjax","deployment":"spotjax","firestoreDatabase":"(default)"}""", Encoding.UTF8.GetString(descriptor.ToJson()));
    }

    [Theory]
    [InlineData("""{"version":2,"namePrefix":"staging","deployment":"staging","firestoreDatabase":"(default)"}""", "version 2 is not one this spotjax reads")]
    [InlineData("""{"version":"1","namePrefix":"staging","deployment":"staging","firestoreDatabase":"(default)"}""", "no version number")]
    [InlineData("""{"namePrefix":"staging","deployment":"staging","firestoreDatabase":"(default)"}""", "no version number")]
    [InlineData("""{"version":1,"deployment":"staging","firestoreDatabase":"(default)"}""", "no namePrefix string")]
    [InlineData("""{"version":1,"namePrefix":"Staging","deployment":"staging","firestoreDatabase":"(default)"}""", "'Staging' is not a name prefix")]
    [InlineData("""{"version":1,"namePrefix":"staging","deployment":"Staging","firestoreDatabase":"(default)"}""", "'Staging' is not a deployment name")]
    [InlineData("""{"version":1,"namePrefix":"staging","deployment":"staging","firestoreDatabase":"db"}""", "'db' is not a Firestore database")]
    [InlineData("""{"version":1,"namePrefix":"staging","deployment":"staging","firestoreDatabase":"(default)","bucket":"b"}""", "unknown properties bucket")]
    [InlineData("""{"version":1,"namePrefix":"staging","namePrefix":"other","deployment":"staging","firestoreDatabase":"(default)"}""", "a property is repeated")]
    [InlineData("""["staging"]""", "expected a JSON object")]
    [InlineData("""{"version":1,""", "not JSON")]
    public void Parse_AnythingElse_IsAFormatExceptionSayingWhat(string json, string message)
    {
        var error = Assert.Throws<FormatException>(() => DeploymentDescriptor.Parse(Encoding.UTF8.GetBytes(json)));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("(Parameter", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ObjectName_BelongsToNoJob()
    {
        Assert.Null(BucketLayout.JobIdOf(DeploymentDescriptor.ObjectName));
    }
}
