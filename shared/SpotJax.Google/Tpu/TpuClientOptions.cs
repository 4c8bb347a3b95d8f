namespace SpotJax.Google.Tpu;

/// <summary>Where <see cref="TpuRestClient"/> sends its calls.</summary>
public sealed record TpuClientOptions
{
    /// <summary>The Google Cloud project that owns the queued resources.</summary>
    public required string Project { get; init; }

    /// <summary>The API root; the TPU simulator's <c>BaseUri</c> in local mode and tests.</summary>
    public Uri BaseUri { get; init; } = new("https://tpu.googleapis.com/");

    /// <summary><c>pageSize</c> sent with every list call; the client follows <c>nextPageToken</c> over all pages.</summary>
    public int ListPageSize { get; init; } = 100;
}
