using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Google.Cloud.Storage.V1;
using SpotJax.Core.Ports;
using LibraryException = global::Google.GoogleApiException;
using StorageObject = global::Google.Apis.Storage.v1.Data.Object;

namespace SpotJax.Google.Storage;

/// <summary>
/// The control bucket on Cloud Storage, through Google.Cloud.Storage.V1: in production with
/// Application Default Credentials, in tests against a local JSON API server. Finalize events do
/// not come from here: Cloud Storage sends them through Eventarc to <c>bucket-events</c>.
/// Failures are <see cref="GoogleApiException"/>s classified by their HTTP code.
/// </summary>
public sealed class GcsObjectStore : IObjectStore, IDisposable
{
    private const string DefaultContentType = "application/octet-stream";

    private static readonly (string Suffix, string Type)[] ContentTypes =
    [
        (".json", "application/json"),
        (".yaml", "application/yaml"),
        (".yml", "application/yaml"),
        (".txt", "text/plain; charset=utf-8"),
        (".log", "text/plain; charset=utf-8"),
        (".tar.gz", "application/gzip"),
        (".tgz", "application/gzip"),
    ];

    private readonly StorageClient _client;
    private readonly GcsObjectStoreOptions _options;
    private readonly Uri _mediaUploadUri;
    private readonly Uri _mediaCreateUri;

    private GcsObjectStore(StorageClient client, GcsObjectStoreOptions options)
    {
        _client = client;
        _options = options;
        var service = client.Service;
        // Uploads live beside the JSON API root: https://storage.googleapis.com/upload/storage/v1/...
        _mediaUploadUri = new Uri(new Uri(service.BaseUri), $"/upload/{service.BasePath}b/{Uri.EscapeDataString(options.Bucket)}/o?uploadType=multipart");
        // Generation 0 matches only an object that does not exist.
        _mediaCreateUri = new Uri(_mediaUploadUri.AbsoluteUri + "&ifGenerationMatch=0");
    }

    /// <inheritdoc />
    public string Bucket => _options.Bucket;

    /// <summary>
    /// A store for <see cref="GcsObjectStoreOptions.Bucket"/>; with a <see cref="GcsObjectStoreOptions.BaseUri"/>
    /// it calls that server without credentials, otherwise Cloud Storage with Application Default Credentials.
    /// </summary>
    /// <exception cref="InvalidOperationException">No Application Default Credentials were found.</exception>
    public static async Task<GcsObjectStore> CreateAsync(GcsObjectStoreOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(options.Bucket, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ListPageSize, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(options.SingleRequestUploadLimit, nameof(options));
        var builder = options.BaseUri is null
            ? new StorageClientBuilder()
            : new StorageClientBuilder { BaseUri = WithTrailingSlash(options.BaseUri), UnauthenticatedAccess = true };
        return new GcsObjectStore(await builder.BuildAsync(cancellationToken), options);
    }

    /// <inheritdoc />
    /// <remarks>The content type follows the name's extension; see <see cref="PutAsync(string, byte[], string, CancellationToken)"/>.</remarks>
    public Task PutAsync(string name, byte[] content, CancellationToken cancellationToken) =>
        PutAsync(name, content, ContentTypeFor(name), cancellationToken);

    /// <summary>
    /// Writes an object with a content type. Objects up to <see cref="GcsObjectStoreOptions.SingleRequestUploadLimit"/>
    /// go up in one request; larger ones through a resumable upload whose hash the library checks.
    /// </summary>
    public async Task PutAsync(string name, byte[] content, string contentType, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(content);
        ArgumentException.ThrowIfNullOrEmpty(contentType);
        await UploadAsync(name, content, contentType, createOnly: false, $"upload {Describe(name)}", cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>
    /// An upload, as by <see cref="PutAsync(string, byte[], CancellationToken)"/>, with the precondition
    /// <c>ifGenerationMatch=0</c>, which Cloud Storage checks as it commits the object; its answer 412
    /// (precondition failed) means that an object of that name exists. Should the HTTP client retry a request
    /// whose first try did commit, the answer is false: a caller that must tell the two apart compares the
    /// stored content with its own.
    /// </remarks>
    public async Task<bool> TryCreateAsync(string name, byte[] content, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(content);
        try
        {
            await UploadAsync(name, content, ContentTypeFor(name), createOnly: true, $"create {Describe(name)}", cancellationToken);
            return true;
        }
        catch (GoogleApiException e) when (e.HttpStatus == HttpStatusCode.PreconditionFailed)
        {
            return false;
        }
    }

    /// <inheritdoc />
    /// <remarks>The library checks the bytes against the object's CRC32C.</remarks>
    public async Task<byte[]?> GetAsync(string name, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        using var buffer = new MemoryStream();
        try
        {
            await LibraryCallAsync(() => _client.DownloadObjectAsync(Bucket, name, buffer, cancellationToken: cancellationToken), $"download {Describe(name)}", cancellationToken);
        }
        catch (GoogleApiException e) when (e.HttpStatus == HttpStatusCode.NotFound)
        {
            return null;
        }

        return buffer.ToArray();
    }

    /// <summary>
    /// The bytes of an object from <paramref name="offset"/> on (a ranged download), for following a log
    /// that grows: empty when nothing lies past the offset, null when the object does not exist.
    /// </summary>
    public async Task<byte[]?> ReadFromAsync(string name, long offset, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var uri = new Uri(new Uri(_client.Service.BaseUri), $"b/{Uri.EscapeDataString(Bucket)}/o/{Uri.EscapeDataString(name)}?alt=media");
        HttpRequestMessage Request()
        {
            var request = new HttpRequestMessage(HttpMethod.Get, uri);
            request.Headers.Range = new RangeHeaderValue(offset, null);
            return request;
        }

        var (status, body) = await SendAsync(
            Request, $"read {Describe(name)} from byte {offset}", cancellationToken,
            HttpStatusCode.OK, HttpStatusCode.PartialContent, HttpStatusCode.NotFound, HttpStatusCode.RequestedRangeNotSatisfiable);
        return status switch
        {
            HttpStatusCode.NotFound => null,
            // Nothing past the offset yet (an empty object answers this even for offset 0).
            HttpStatusCode.RequestedRangeNotSatisfiable => [],
            // A server that ignores Range sends the whole object.
            HttpStatusCode.OK => offset >= body.Length ? [] : body[(int)offset..],
            _ => body,
        };
    }

    /// <inheritdoc />
    /// <remarks>
    /// Cloud Storage lists in the lexicographic order of the names' UTF-8 bytes; the result is sorted
    /// ordinally as the other stores sort it, which differs only for characters outside the BMP.
    /// </remarks>
    public async Task<IReadOnlyList<StoredObject>> ListAsync(string prefix, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var listed = new List<StoredObject>();
        var options = new ListObjectsOptions { PageSize = _options.ListPageSize, Fields = "items(name,generation,size,updated),nextPageToken" };
        await LibraryCallAsync(
            async () =>
            {
                await foreach (var item in _client.ListObjectsAsync(Bucket, prefix.Length == 0 ? null : prefix, options).WithCancellation(cancellationToken))
                {
                    listed.Add(ToStoredObject(item));
                }
            },
            $"list {Describe(prefix)}*",
            cancellationToken);
        listed.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return listed;
    }

    /// <summary>Releases the HTTP client.</summary>
    public void Dispose() => _client.Dispose();

    /// <summary>The content type an object gets from its name: JSON and YAML documents, logs, archives.</summary>
    private static string ContentTypeFor(string name) =>
        ContentTypes.FirstOrDefault(t => name.EndsWith(t.Suffix, StringComparison.OrdinalIgnoreCase)).Type ?? DefaultContentType;

    private static StoredObject ToStoredObject(StorageObject item) => new(
        item.Name,
        item.Generation ?? 0,
        checked((long)(item.Size ?? 0)),
        item.UpdatedDateTimeOffset ?? DateTimeOffset.MinValue);

    /// <summary>The upload of both writes; <paramref name="createOnly"/> adds the precondition that no object of that name exists.</summary>
    private async Task UploadAsync(string name, byte[] content, string contentType, bool createOnly, string call, CancellationToken cancellationToken)
    {
        if (content.Length <= _options.SingleRequestUploadLimit)
        {
            await SendAsync(() => MultipartUpload(createOnly ? _mediaCreateUri : _mediaUploadUri, name, content, contentType), call, cancellationToken, HttpStatusCode.OK);
            return;
        }

        var options = createOnly ? new UploadObjectOptions { IfGenerationMatch = 0 } : null;
        await LibraryCallAsync(
            async () =>
            {
                using var stream = new MemoryStream(content, writable: false);
                await _client.UploadObjectAsync(Bucket, name, contentType, stream, options, cancellationToken);
            },
            call,
            cancellationToken);
    }

    private HttpRequestMessage MultipartUpload(Uri uri, string name, byte[] content, string contentType)
    {
        var metadata = _client.Service.Serializer.Serialize(new StorageObject { Name = name, ContentType = contentType });
        var media = new ByteArrayContent(content);
        media.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return new HttpRequestMessage(HttpMethod.Post, uri)
        {
            Content = new MultipartContent("related") { new StringContent(metadata, Encoding.UTF8, "application/json"), media },
        };
    }

    /// <summary>
    /// One request through the library's HTTP client (its credentials and user agent); answers other than
    /// <paramref name="expected"/> become a <see cref="GoogleApiException"/>.
    /// </summary>
    private async Task<(HttpStatusCode Status, byte[] Body)> SendAsync(
        Func<HttpRequestMessage> request, string call, CancellationToken cancellationToken, params HttpStatusCode[] expected)
    {
        try
        {
            using var message = request();
            using var response = await _client.Service.HttpClient.SendAsync(message, cancellationToken);
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            return expected.Contains(response.StatusCode)
                ? (response.StatusCode, body)
                : throw StorageErrors.FromResponse(response.StatusCode, Encoding.UTF8.GetString(body), call);
        }
        catch (HttpRequestException e)
        {
            throw StorageErrors.Unreachable(e, call);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw StorageErrors.TimedOut(call);
        }
    }

    private static async Task LibraryCallAsync(Func<Task> call, string description, CancellationToken cancellationToken)
    {
        try
        {
            await call();
        }
        catch (LibraryException e)
        {
            throw StorageErrors.FromLibrary(e, description);
        }
        catch (HttpRequestException e)
        {
            throw StorageErrors.Unreachable(e, description);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw StorageErrors.TimedOut(description);
        }
    }

    private string Describe(string name) => $"gs://{Bucket}/{name}";

    private static string WithTrailingSlash(Uri uri) => uri.AbsoluteUri.EndsWith('/') ? uri.AbsoluteUri : uri.AbsoluteUri + "/";
}
