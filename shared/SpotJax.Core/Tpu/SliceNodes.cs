using System.Globalization;

namespace SpotJax.Core.Tpu;

/// <summary>
/// The node ids of a queued resource with <c>slices</c> nodes. One slice is one node named after the queued
/// resource (<c>nodeSpec[].nodeId</c>); several are the nodes of <c>multisliceParams</c> with the queued resource's
/// id as <c>nodeIdPrefix</c>: "If node_count = 3 and node_id_prefix = "np", node ids of nodes created will be
/// "np-0", "np-1", "np-2"" (https://cloud.google.com/tpu/docs/reference/rest/v2/projects.locations.queuedResources).
/// </summary>
public static class SliceNodes
{
    /// <summary>The node id of slice <paramref name="slice"/> of <paramref name="slices"/>.</summary>
    public static string NodeId(string queuedResourceId, int slices, int slice)
    {
        ArgumentException.ThrowIfNullOrEmpty(queuedResourceId);
        ArgumentOutOfRangeException.ThrowIfLessThan(slices, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(slice);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(slice, slices);
        return slices == 1 ? queuedResourceId : string.Create(CultureInfo.InvariantCulture, $"{queuedResourceId}-{slice}");
    }

    /// <summary>Every node id, slice 0 first.</summary>
    public static IReadOnlyList<string> NodeIds(string queuedResourceId, int slices) =>
        [.. Enumerable.Range(0, slices).Select(slice => NodeId(queuedResourceId, slices, slice))];
}
