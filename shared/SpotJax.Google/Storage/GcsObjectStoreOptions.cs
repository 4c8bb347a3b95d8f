namespace SpotJax.Google.Storage;

/// <summary>Where <see cref="GcsObjectStore"/> keeps the control bucket, and how it talks to it.</summary>
public sealed record GcsObjectStoreOptions
{
    /// <summary>The bucket name, as in <c>gs://NAME/...</c>.</summary>
    public required string Bucket { get; init; }

    /// <summary>
    /// The JSON API root of a local Cloud Storage server, such as <c>http://127.0.0.1:9199/storage/v1/</c>,
    /// called without credentials; null for Cloud Storage itself with Application Default Credentials.
    /// </summary>
    public Uri? BaseUri { get; init; }

    /// <summary><c>maxResults</c> of every list page; the store follows <c>nextPageToken</c> over all pages.</summary>
    public int ListPageSize { get; init; } = 1000;

    /// <summary>
    /// Objects up to this size go up in one multipart request; larger ones through a resumable
    /// upload (an initiating request, then the bytes in chunks), which can resume after a break.
    /// </summary>
    public int SingleRequestUploadLimit { get; init; } = 8 * 1024 * 1024;
}
