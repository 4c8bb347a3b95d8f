namespace SpotJax.Google.Tpu;

/// <summary>Where <see cref="TpuRestClient"/> sends its calls.</summary>
public sealed record TpuClientOptions
{
    /// <summary>The Google Cloud project that owns the queued resources.</summary>
    public required string Project { get; init; }

    /// <summary>The API root; the TPU simulator's <c>BaseUri</c> in local mode and tests.</summary>
    public Uri BaseUri { get; init; } = new("https://tpu.googleapis.com/");

    /// <summary><c>pageSize</c> sent with every list call; the client follows <c>nextPageToken</c> over all pages.</summary>
    /// <remarks>
    /// 1,000, so that the sweep's one list per zone is one call up to 1,000 queued resources there (the scale
    /// benchmark, docs/scale.md); at 100 a zone with 1,000 jobs took ten calls every minute. The TPU API documents
    /// no maximum (unconfirmed): a server that caps the page lower still answers with a next page token, which
    /// the client follows, so a lower cap costs calls, never queued resources.
    /// </remarks>
    public int ListPageSize { get; init; } = 1000;

    /// <summary>
    /// The most pages one list call follows before it gives up: a guard against a server that keeps
    /// answering with a next page token.
    /// </summary>
    public int MaxListPages { get; init; } = 1000;

    /// <summary>The first pause between two <c>operations.get</c> polls; it doubles up to <see cref="OperationPollMaxDelay"/>.</summary>
    public TimeSpan OperationPollInitialDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest pause between two <c>operations.get</c> polls.</summary>
    public TimeSpan OperationPollMaxDelay { get; init; } = TimeSpan.FromSeconds(30);
}
