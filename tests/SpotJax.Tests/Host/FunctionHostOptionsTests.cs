using System.Collections;
using SpotJax.Functions;
using SpotJax.Functions.Host;

namespace SpotJax.Tests.Host;

public sealed class FunctionHostOptionsTests
{
    private static Hashtable Env(params (string Name, string Value)[] values)
    {
        var env = new Hashtable();
        foreach (var (name, value) in values)
        {
            env[name] = value;
        }

        return env;
    }

    [Theory]
    [InlineData("submit")]
    [InlineData("bucket-events")]
    [InlineData("sweep")]
    public void FromEnvironment_KnownTarget_UsesPort8080ByDefault(string target)
    {
        var options = FunctionHostOptions.FromEnvironment(Env(("FUNCTION_TARGET", target)));

        Assert.Equal((target, 8080, false, null), (options.Target, options.Port, options.LoopbackOnly, options.Auth));
    }

    [Fact]
    public void FromEnvironment_EveryFunctionName_IsAccepted()
    {
        Assert.All(FunctionNames.All, name => Assert.Equal(name, FunctionHostOptions.FromEnvironment(Env(("FUNCTION_TARGET", name))).Target));
    }

    [Theory]
    [InlineData(null, "FUNCTION_TARGET is not set")]
    [InlineData("Submit", "FUNCTION_TARGET=Submit is not a SpotJax function; expected one of: submit, bucket-events")]
    [InlineData("launcher", "is not a SpotJax function")]
    public void FromEnvironment_UnknownOrMissingTarget_FailsNamingTheChoices(string? target, string message)
    {
        var env = target is null ? Env() : Env(("FUNCTION_TARGET", target));

        var error = Assert.Throws<HostConfigurationException>(() => FunctionHostOptions.FromEnvironment(env));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http")]
    [InlineData("70000")]
    public void FromEnvironment_BadPort_Fails(string port)
    {
        Assert.Throws<HostConfigurationException>(() => FunctionHostOptions.FromEnvironment(Env(("FUNCTION_TARGET", "submit"), ("PORT", port))));
    }

    [Fact]
    public void FromEnvironment_AudienceWithoutAccount_Fails()
    {
        var error = Assert.Throws<HostConfigurationException>(() =>
            FunctionHostOptions.FromEnvironment(Env(("FUNCTION_TARGET", "submit"), ("SPOTJAX_PUSH_AUDIENCE", "https://x.run.app"))));

        Assert.Contains("SPOTJAX_PUSH_SERVICE_ACCOUNT", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromEnvironment_FullSettings_AreRead()
    {
        var options = FunctionHostOptions.FromEnvironment(Env(
            ("FUNCTION_TARGET", "recover"), ("PORT", "9090"), ("SPOTJAX_LOOPBACK_ONLY", "1"),
            ("SPOTJAX_PUSH_AUDIENCE", "https://recover.run.app"), ("SPOTJAX_PUSH_SERVICE_ACCOUNT", "push@p.iam.gserviceaccount.com"), ("GOOGLE_CLOUD_PROJECT", "p")));

        Assert.Equal((9090, true, "p"), (options.Port, options.LoopbackOnly, options.Project));
        Assert.Equal(new PushAuthOptions("https://recover.run.app", "push@p.iam.gserviceaccount.com"), options.Auth);
    }
}
