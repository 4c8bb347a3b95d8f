using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using SpotJax.Core.Ports;
using SpotJax.Core.Tpu;

namespace SpotJax.Google.Tpu;

/// <summary>
/// The Cloud TPU v2 REST client (<c>https://tpu.googleapis.com/v2</c>); pointed at the TPU simulator it
/// runs unchanged. It makes exactly one HTTP call per method call (one per page when listing): retrying
/// is the caller's policy.
/// </summary>
/// <remarks>
/// Every failure is a <see cref="GoogleApiException"/> classified by the envelope's <c>error.status</c>.
/// A failure with no HTTP answer becomes UNAVAILABLE (no connection) or DEADLINE_EXCEEDED (timeout),
/// the names gRPC clients give them, so that callers need to look at one exception type only.
/// </remarks>
public sealed class TpuRestClient : ITpuApi
{
    private const int MaxErrorBodyChars = 500;

    private readonly HttpClient _http;
    private readonly TpuClientOptions _options;
    private readonly Func<CancellationToken, Task<string?>>? _accessToken;
    private readonly Uri _baseUri;

    /// <summary>A client for one project; it sends nothing until called.</summary>
    /// <param name="http">The transport; its <c>BaseAddress</c> is not used.</param>
    /// <param name="options">Project and API root.</param>
    /// <param name="accessToken">
    /// OAuth access token source (scope <c>cloud-platform</c>); no <c>Authorization</c> header is sent when it
    /// is absent or returns null, as against the simulator.
    /// </param>
    public TpuRestClient(HttpClient http, TpuClientOptions options, Func<CancellationToken, Task<string?>>? accessToken = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ListPageSize, 1, nameof(options));
        _http = http;
        _options = options;
        _accessToken = accessToken;
        var root = options.BaseUri.AbsoluteUri;
        // Without the trailing slash a relative "v2/..." would replace the root's last segment.
        _baseUri = new Uri(root.EndsWith('/') ? root : root + "/");
        Segment(options.Project, nameof(options));
    }

    /// <inheritdoc />
    public async Task<Operation?> CreateQueuedResourceAsync(string zone, string queuedResourceId, QueuedResource body, string requestId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentException.ThrowIfNullOrEmpty(requestId);
        var uri = $"{QueuedResourcesPath(zone)}?queuedResourceId={Segment(queuedResourceId, nameof(queuedResourceId))}&requestId={Uri.EscapeDataString(requestId)}";
        try
        {
            return await SendAsync<Operation>(HttpMethod.Post, uri, body, cancellationToken);
        }
        catch (GoogleApiException e) when (e.Status == "ALREADY_EXISTS")
        {
            return null;
        }
    }

    /// <inheritdoc />
    public async Task<QueuedResource?> GetQueuedResourceAsync(string zone, string queuedResourceId, CancellationToken cancellationToken)
    {
        var uri = $"{QueuedResourcesPath(zone)}/{Segment(queuedResourceId, nameof(queuedResourceId))}";
        try
        {
            return await SendAsync<QueuedResource>(HttpMethod.Get, uri, null, cancellationToken);
        }
        catch (GoogleApiException e) when (e.Status == "NOT_FOUND")
        {
            return null;
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<QueuedResource>> ListQueuedResourcesAsync(string zone, CancellationToken cancellationToken)
    {
        var path = QueuedResourcesPath(zone);
        var all = new List<QueuedResource>();
        string? pageToken = null;
        do
        {
            var uri = $"{path}?pageSize={_options.ListPageSize}";
            if (!string.IsNullOrEmpty(pageToken))
            {
                uri += $"&pageToken={Uri.EscapeDataString(pageToken)}";
            }

            var page = await SendAsync<QueuedResourcePage>(HttpMethod.Get, uri, null, cancellationToken);
            all.AddRange(page.QueuedResources ?? []);
            pageToken = page.NextPageToken;
        }
        while (!string.IsNullOrEmpty(pageToken));

        return all;
    }

    /// <inheritdoc />
    public async Task<Operation?> DeleteQueuedResourceAsync(string zone, string queuedResourceId, bool force, string requestId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(requestId);
        var uri = $"{QueuedResourcesPath(zone)}/{Segment(queuedResourceId, nameof(queuedResourceId))}?requestId={Uri.EscapeDataString(requestId)}";
        if (force)
        {
            uri += "&force=true";
        }

        try
        {
            return await SendAsync<Operation>(HttpMethod.Delete, uri, null, cancellationToken);
        }
        catch (GoogleApiException e) when (e.Status == "NOT_FOUND")
        {
            return null;
        }
    }

    /// <inheritdoc />
    public async Task<Node?> GetNodeAsync(string zone, string nodeId, CancellationToken cancellationToken)
    {
        var uri = $"{LocationPath(zone)}/nodes/{Segment(nodeId, nameof(nodeId))}";
        try
        {
            return await SendAsync<Node>(HttpMethod.Get, uri, null, cancellationToken);
        }
        catch (GoogleApiException e) when (e.Status == "NOT_FOUND")
        {
            return null;
        }
    }

    /// <inheritdoc />
    public Task<Operation> GetOperationAsync(string name, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var parts = name.Split('/');
        if (parts is not ["projects", _, "locations", _, "operations", _])
        {
            throw new ArgumentException($"Operation name '{name}' is not projects/P/locations/Z/operations/ID.", nameof(name));
        }

        var uri = $"v2/projects/{Segment(parts[1], nameof(name))}/locations/{Segment(parts[3], nameof(name))}/operations/{Segment(parts[5], nameof(name))}";
        return SendAsync<Operation>(HttpMethod.Get, uri, null, cancellationToken);
    }

    /// <summary>
    /// Maps a failed HTTP answer to a <see cref="GoogleApiException"/>: the envelope's <c>status</c> when the
    /// body is an envelope, otherwise a name derived from the HTTP code.
    /// </summary>
    private static GoogleApiException ToException(HttpStatusCode httpStatus, string body)
    {
        ErrorBody? error = null;
        try
        {
            error = JsonSerializer.Deserialize<ErrorEnvelope>(body, TpuJson.Options)?.Error;
        }
        catch (JsonException)
        {
            // Proxies and load balancers answer with HTML or plain text; the HTTP code is all there is.
        }

        var status = string.IsNullOrEmpty(error?.Status) ? StatusFromHttp(httpStatus) : error.Status;
        var message = string.IsNullOrEmpty(error?.Message) ? Truncate(body) : error.Message;
        return new GoogleApiException(httpStatus, status, message);
    }

    private static string StatusFromHttp(HttpStatusCode code) => code switch
    {
        HttpStatusCode.BadRequest => "INVALID_ARGUMENT",
        HttpStatusCode.Unauthorized => "UNAUTHENTICATED",
        HttpStatusCode.Forbidden => "PERMISSION_DENIED",
        HttpStatusCode.NotFound => "NOT_FOUND",
        HttpStatusCode.Conflict => "ABORTED",
        HttpStatusCode.TooManyRequests => "RESOURCE_EXHAUSTED",
        HttpStatusCode.InternalServerError => "INTERNAL",
        HttpStatusCode.ServiceUnavailable => "UNAVAILABLE",
        HttpStatusCode.GatewayTimeout => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    };

    private static string Truncate(string body)
    {
        var text = body.Trim();
        return text.Length <= MaxErrorBodyChars ? text : text[..MaxErrorBodyChars] + "...";
    }

    /// <summary>Escapes one URL path segment, refusing values that would change the path's shape.</summary>
    private static string Segment(string value, string paramName)
    {
        ArgumentException.ThrowIfNullOrEmpty(value, paramName);
        if (value.Contains('/', StringComparison.Ordinal) || value is "." or "..")
        {
            throw new ArgumentException($"'{value}' is not a valid resource id.", paramName);
        }

        return Uri.EscapeDataString(value);
    }

    private string LocationPath(string zone) =>
        $"v2/projects/{Uri.EscapeDataString(_options.Project)}/locations/{Segment(zone, nameof(zone))}";

    private string QueuedResourcesPath(string zone) => $"{LocationPath(zone)}/queuedResources";

    private async Task<T> SendAsync<T>(HttpMethod method, string relativeUri, object? body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, new Uri(_baseUri, relativeUri));
        if (body is not null)
        {
            request.Content = JsonContent.Create(body, body.GetType(), options: TpuJson.Options);
        }

        if (_accessToken is not null && await _accessToken(cancellationToken) is { Length: > 0 } token)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new GoogleApiException(HttpStatusCode.ServiceUnavailable, "UNAVAILABLE", $"{method} {request.RequestUri}: {e.Message}");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new GoogleApiException(HttpStatusCode.GatewayTimeout, "DEADLINE_EXCEEDED", $"{method} {request.RequestUri}: no answer within {_http.Timeout}");
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw ToException(response.StatusCode, text);
            }

            try
            {
                return JsonSerializer.Deserialize<T>(text, TpuJson.Options)
                    ?? throw new GoogleApiException(response.StatusCode, "UNKNOWN", $"{method} {request.RequestUri}: empty answer");
            }
            catch (JsonException e)
            {
                throw new GoogleApiException(response.StatusCode, "UNKNOWN", $"{method} {request.RequestUri}: unreadable answer: {e.Message}");
            }
        }
    }
}
