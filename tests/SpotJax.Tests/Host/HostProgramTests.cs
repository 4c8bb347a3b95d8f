using System.Diagnostics;

namespace SpotJax.Tests.Host;

/// <summary>The container's program, started as Cloud Run starts it, with a wrong environment.</summary>
public sealed class HostProgramTests
{
    private static async Task<(int ExitCode, string Error)> RunAsync(params (string Name, string Value)[] environment)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "spotjax-functions.dll"));
        start.Environment.Remove("FUNCTION_TARGET");
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(patience.Token);
        return (process.ExitCode, await error);
    }

    [Fact]
    public async Task Start_UnknownFunctionTarget_ExitsTwoListingTheFunctions()
    {
        var (exit, error) = await RunAsync(("FUNCTION_TARGET", "provisioner"), ("PORT", "0"));

        Assert.Equal(2, exit);
        Assert.Contains("FUNCTION_TARGET=provisioner is not a SpotJax function; expected one of: submit, bucket-events, provision, launch, recover, finish, sweep, status", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_WithoutProjectOrBucket_ExitsTwoNamingTheVariable()
    {
        var (exit, error) = await RunAsync(("FUNCTION_TARGET", "submit"), ("PORT", "0"), ("GOOGLE_CLOUD_PROJECT", "p"));

        Assert.Equal(2, exit);
        Assert.Contains("SPOTJAX_BUCKET is not set", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_SweepWithAnInvalidSweepZone_ExitsTwoNamingTheVariable()
    {
        var state = Directory.CreateTempSubdirectory("spotjax-host-");
        try
        {
            var (exit, error) = await RunAsync(
                ("FUNCTION_TARGET", "sweep"),
                ("PORT", "0"),
                ("GOOGLE_CLOUD_PROJECT", "p"),
                ("SPOTJAX_BUCKET", "spotjax-test"),
                ("SPOTJAX_STATE_DB", Path.Combine(state.FullName, "jobs.db")),
                ("SPOTJAX_BUCKET_DIR", Path.Combine(state.FullName, "bucket")),
                ("SPOTJAX_SWEEP_ZONES", "us-central2-b,us-central2"));

            Assert.Equal(2, exit);
            Assert.Contains("SPOTJAX_SWEEP_ZONES: 'us-central2' is not a zone", error, StringComparison.Ordinal);
        }
        finally
        {
            state.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("SPOTJAX_TPU_API", "ftp://tpu.example", "SPOTJAX_TPU_API='ftp://tpu.example' is not an http(s) URL")]
    [InlineData("PUBSUB_EMULATOR_HOST", "localhost", "PUBSUB_EMULATOR_HOST='localhost' is not host:port")]
    [InlineData("FIRESTORE_EMULATOR_HOST", "https://firestore:8080", "FIRESTORE_EMULATOR_HOST='https://firestore:8080' is not host:port")]
    public async Task Start_EndpointVariableNotAnAddress_ExitsTwoNamingTheVariable(string variable, string value, string message)
    {
        var (exit, error) = await RunAsync(
            ("FUNCTION_TARGET", "provision"),
            ("PORT", "0"),
            ("GOOGLE_CLOUD_PROJECT", "p"),
            ("SPOTJAX_BUCKET", "spotjax-test"),
            (variable, value));

        Assert.Equal(2, exit);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }
}
