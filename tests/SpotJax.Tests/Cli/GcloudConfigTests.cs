using SpotJax.Cli;

namespace SpotJax.Tests.Cli;

/// <summary>gcloud's <c>billing/quota_project</c>, read from its configuration files as gcloud writes them.</summary>
public sealed class GcloudConfigTests : IDisposable
{
    private readonly DirectoryInfo _gcloud = Directory.CreateTempSubdirectory("spotjax-gcloud-");

    [Theory]
    [InlineData("billing-project", "billing-project")]
    [InlineData("CURRENT_PROJECT", "core-project")]
    [InlineData("LEGACY", null)]
    public void QuotaProject_BillingQuotaProjectInTheActiveConfiguration_IsReadWithGcloudsSpecialValues(string configured, string? expected)
    {
        WriteConfiguration("work", $"[core]\nproject = core-project\n\n[billing]\nquota_project = {configured}\n");
        File.WriteAllText(Path.Combine(_gcloud.FullName, "active_config"), "work\n");

        Assert.Equal(expected, GcloudConfig.QuotaProject(Environment()));
    }

    [Fact]
    public void QuotaProject_NoBillingSection_IsNull()
    {
        WriteConfiguration("default", "[core]\nproject = core-project\n");

        Assert.Null(GcloudConfig.QuotaProject(Environment()));
    }

    [Fact]
    public void QuotaProject_BillingVariableSet_WinsOverTheFile()
    {
        WriteConfiguration("default", "[billing]\nquota_project = from-file\n");

        Assert.Equal("from-variable", GcloudConfig.QuotaProject(Environment(("CLOUDSDK_BILLING_QUOTA_PROJECT", "from-variable"))));
    }

    public void Dispose() => _gcloud.Delete(recursive: true);

    private void WriteConfiguration(string name, string text)
    {
        var configurations = Directory.CreateDirectory(Path.Combine(_gcloud.FullName, "configurations"));
        File.WriteAllText(Path.Combine(configurations.FullName, $"config_{name}"), text);
    }

    private Func<string, string?> Environment(params (string Name, string Value)[] extra)
    {
        var variables = extra.ToDictionary(v => v.Name, v => v.Value);
        variables["CLOUDSDK_CONFIG"] = _gcloud.FullName;
        return name => variables.GetValueOrDefault(name);
    }
}
