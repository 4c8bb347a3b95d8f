using SpotJax.Core.Jobs;

namespace SpotJax.Core.Tests.Jobs;

public sealed class TpuDefaultsTests
{
    [Theory]
    [InlineData("v2-8", "tpu-ubuntu2204-base")]
    [InlineData("v3-32", "tpu-ubuntu2204-base")]
    [InlineData("v4-8", "tpu-ubuntu2204-base")]
    [InlineData("v5litepod-16", "v2-alpha-tpuv5-lite")]
    [InlineData("v5p-32", "v2-alpha-tpuv5")]
    [InlineData("v6e-8", "v2-alpha-tpuv6e")]
    public void RuntimeVersion_Generation_GivesItsImage(string type, string expected)
    {
        Assert.Equal(expected, TpuDefaults.RuntimeVersion(type));
    }

    [Fact]
    public void RuntimeVersion_UnknownGeneration_Throws()
    {
        Assert.Throws<ArgumentException>(() => TpuDefaults.RuntimeVersion("v9-8"));
    }
}
