using SpotJax.Core;
using SpotJax.Core.Ports;

namespace SpotJax.Tests.Handlers;

/// <summary>
/// Terraform writes <see cref="DeploymentDescriptor.ObjectName"/> into the control bucket, whose every
/// finalize event reaches <c>bucket-events</c>: that one is not a job's and must change nothing.
/// </summary>
public sealed class DeploymentDescriptorEventTests : IAsyncLifetime
{
    private HandlerHarness h = null!;

    public async Task InitializeAsync() => h = await HandlerHarness.StartAsync();

    public async Task DisposeAsync() => await h.DisposeAsync();

    [Fact]
    public async Task BucketEvents_DescriptorFinalizedTwice_CreatesNoJobAndPublishesNothing()
    {
        var content = new DeploymentDescriptor("spotjax", "spotjax", "(default)").ToJson();
        await h.Objects.PutAsync(DeploymentDescriptor.ObjectName, content, CancellationToken.None);
        var finalized = new StorageObjectEvent(HandlerHarness.Bucket, DeploymentDescriptor.ObjectName, 1, content.Length, h.Time.GetUtcNow());

        await h.Functions.BucketEvents.HandleAsync(finalized, CancellationToken.None);
        await h.Functions.BucketEvents.HandleAsync(finalized, CancellationToken.None);

        Assert.Empty(await h.Store.ListRecentAsync(10, CancellationToken.None));
        foreach (var topic in Topics.Default.All)
        {
            Assert.Empty(await h.TakeAsync(topic));
        }
    }
}
