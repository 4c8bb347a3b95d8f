using SpotJax.Core.Jobs;

namespace SpotJax.Core.Tests.Cost;

public sealed class TpuChipsTests
{
    [Theory]
    [InlineData("v2-8", 4)]
    [InlineData("v3-32", 16)]
    [InlineData("v4-8", 4)]
    [InlineData("v4-32", 16)]
    [InlineData("v5p-8", 4)]
    [InlineData("v5p-128", 64)]
    [InlineData("v5litepod-1", 1)]
    [InlineData("v5litepod-16", 16)]
    [InlineData("v6e-8", 8)]
    [InlineData("v6e-256", 256)]
    public void Of_KnownType_CountsChipsNotCores(string type, int chips) => Assert.Equal(chips, TpuChips.Of(type));

    [Theory]
    [InlineData("v9-8")]
    [InlineData("v4")]
    [InlineData("v4-x")]
    [InlineData("v4-0")]
    public void Of_UnknownType_IsNull(string type) => Assert.Null(TpuChips.Of(type));

    [Theory]
    [InlineData(1, 16)]
    [InlineData(2, 32)]
    [InlineData(64, 1024)]
    public void Billed_Slices_CountsEverySlice(int slices, int chips)
    {
        var spec = new JobSpec
        {
            Name = "train",
            Tpu = new TpuSpec { Type = "v4-32", Zones = ["us-central2-b"], RuntimeVersion = "tpu-ubuntu2204-base" },
            Code = "gs://bucket/code.tar.gz",
            Script = "train.py",
            Slices = slices,
        };

        Assert.Equal(chips, TpuChips.Billed(spec));
    }
}
