using SpotJax.Core.Tpu;

namespace SpotJax.Core.Tests.Tpu;

public sealed class SliceNodesTests
{
    [Fact]
    public void NodeIds_OneSlice_IsTheQueuedResourceId()
    {
        Assert.Equal(["job-abc-1"], SliceNodes.NodeIds("job-abc-1", 1));
    }

    [Fact]
    public void NodeIds_SeveralSlices_ArePrefixDashIndex()
    {
        // As the API names the nodes of multisliceParams {nodeCount: 3, nodeIdPrefix: "np"}: np-0, np-1, np-2.
        Assert.Equal(["np-0", "np-1", "np-2"], SliceNodes.NodeIds("np", 3));
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(2, 2)]
    [InlineData(2, -1)]
    public void NodeId_OutsideTheSlices_Throws(int slices, int slice)
    {
        Assert.ThrowsAny<ArgumentException>(() => SliceNodes.NodeId("q", slices, slice));
    }
}
