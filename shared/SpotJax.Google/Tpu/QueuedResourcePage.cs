using System.Text.Json.Serialization;
using SpotJax.Core.Tpu;

namespace SpotJax.Google.Tpu;

/// <summary>One page of <c>queuedResources.list</c>.</summary>
internal sealed record QueuedResourcePage
{
    [JsonPropertyName("queuedResources")] public IReadOnlyList<QueuedResource>? QueuedResources { get; init; }
    [JsonPropertyName("nextPageToken")] public string? NextPageToken { get; init; }
}
