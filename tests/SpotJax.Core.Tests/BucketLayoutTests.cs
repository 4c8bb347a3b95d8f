using SpotJax.Core.Jobs;

namespace SpotJax.Core.Tests;

public sealed class BucketLayoutTests
{
    [Theory]
    [InlineData("quickstart-3f9a0c12be/ckpt/step_00000040.json", "quickstart-3f9a0c12be")]
    [InlineData("quickstart-3f9a0c12be/markers/attempt-1/worker-0/exited", "quickstart-3f9a0c12be")]
    [InlineData("jobs/quickstart.yaml", null)]
    [InlineData("code/0123456789abcdef.tar.gz", null)]
    [InlineData("cache/pip/0123456789abcdef.tar", null)]
    [InlineData("quickstart.yaml", null)]
    [InlineData("deployment.json", null)]
    [InlineData("/leading-slash", null)]
    [InlineData("Not_A_Job/x", null)]
    public void JobIdOf_ObjectName_IsItsJobButNeverASharedFolder(string name, string? expected) =>
        Assert.Equal(expected, BucketLayout.JobIdOf(name));

    [Fact]
    public void JobIdOf_SharedFolderNames_WouldOtherwisePassAsJobIds()
    {
        Assert.All(new[] { "jobs", "code", "cache" }, folder => Assert.True(JobId.IsValid(folder)));
    }
}
