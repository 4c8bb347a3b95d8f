namespace SpotJax.Core.Jobs;

/// <summary>How <see cref="JobDocument.Parse"/> treats locations that are not <c>gs://</c> URIs.</summary>
public sealed record JobDocumentOptions
{
    /// <summary>
    /// Accept local paths (relative, absolute or <c>file://</c>) for <c>code</c>, <c>checkpointDir</c>
    /// and <c>logDir</c>. True in local mode only: a Cloud TPU VM cannot read the submitter's disk.
    /// </summary>
    public bool AllowLocalCode { get; init; }

    /// <summary>Directory that relative local paths are resolved against; the current directory when null.</summary>
    public string? BaseDirectory { get; init; }
}
