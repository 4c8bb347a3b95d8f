using System.Net;
using SpotJax.Core.Ports;
using SpotJax.Core.Tpu;
using SpotJax.Google.Http;

namespace SpotJax.Google.Tpu;

/// <summary>
/// The Cloud TPU v2 REST client (<c>https://tpu.googleapis.com/v2</c>); pointed at the TPU simulator it
/// runs unchanged. Every call is idempotent (fixed ids and request ids on create and delete), so the
/// transport retries transient failures; every failure is a <see cref="GoogleApiException"/>.
/// </summary>
public sealed class TpuRestClient : ITpuApi
{
    private readonly GoogleApiTransport _transport;
    private readonly TpuClientOptions _options;
    private readonly Uri _baseUri;
    private readonly TimeProvider _time;

    /// <summary>A client for one project; it sends nothing until called.</summary>
    /// <param name="transport">Authentication, deadlines and retries.</param>
    /// <param name="options">Project and API root.</param>
    /// <param name="time">The clock of <see cref="WaitForOperationAsync"/>'s pauses; <see cref="TimeProvider.System"/> by default.</param>
    public TpuRestClient(GoogleApiTransport transport, TpuClientOptions options, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ListPageSize, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxListPages, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.OperationPollInitialDelay, TimeSpan.Zero, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.OperationPollMaxDelay, options.OperationPollInitialDelay, nameof(options));
        _transport = transport;
        _options = options;
        _time = time ?? TimeProvider.System;
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
        var tokens = new HashSet<string>(StringComparer.Ordinal);
        string? pageToken = null;
        for (var pages = 1; ; pages++)
        {
            var uri = $"{path}?pageSize={_options.ListPageSize}";
            if (!string.IsNullOrEmpty(pageToken))
            {
                uri += $"&pageToken={Uri.EscapeDataString(pageToken)}";
            }

            var page = await SendAsync<QueuedResourcePage>(HttpMethod.Get, uri, null, cancellationToken);
            all.AddRange(page.QueuedResources ?? []);
            pageToken = page.NextPageToken;
            if (string.IsNullOrEmpty(pageToken))
            {
                return all;
            }

            // A token seen before would make the same pages come round again, forever.
            var repeated = !tokens.Add(pageToken);
            if (repeated || pages == _options.MaxListPages)
            {
                var why = repeated ? $"page {pages} sent the page token '{pageToken}' again" : $"it still sent a next page token after {pages} pages";
                throw new GoogleApiException(HttpStatusCode.OK, "UNKNOWN", $"queuedResources.list in {zone} did not end: {why} ({all.Count} queued resources read)");
            }
        }
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
    /// Polls <c>operations.get</c> until the operation is done, pausing
    /// <see cref="TpuClientOptions.OperationPollInitialDelay"/> first and twice as long each time up to
    /// <see cref="TpuClientOptions.OperationPollMaxDelay"/>, on the client's clock. Returns the done
    /// operation: check <see cref="Operation.Error"/> (a numeric gRPC code) before <see cref="Operation.Response"/>.
    /// For a queued-resource create, done does not mean ACTIVE: read <c>state.state</c> afterwards.
    /// </summary>
    /// <param name="name">The full operation name, <c>projects/P/locations/Z/operations/ID</c>.</param>
    /// <param name="timeout">How long to keep polling.</param>
    /// <param name="cancellationToken">Stops the polling.</param>
    /// <exception cref="GoogleApiException">DEADLINE_EXCEEDED when still not done after <paramref name="timeout"/>, or the failure of a poll.</exception>
    public async Task<Operation> WaitForOperationAsync(string name, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero);
        var deadline = _time.GetUtcNow() + timeout;
        var delay = _options.OperationPollInitialDelay;
        for (var polls = 1; ; polls++)
        {
            var operation = await GetOperationAsync(name, cancellationToken);
            if (operation.Done)
            {
                return operation;
            }

            var left = deadline - _time.GetUtcNow();
            if (left <= TimeSpan.Zero)
            {
                throw new GoogleApiException(
                    HttpStatusCode.GatewayTimeout,
                    "DEADLINE_EXCEEDED",
                    $"operation {name} was not done after {timeout} ({polls} polls){(operation.Metadata?.StatusDetail is { Length: > 0 } detail ? $": {detail}" : "")}");
            }

            // The last pause ends at the deadline, so that the last poll happens just in time.
            await Task.Delay(delay < left ? delay : left, _time, cancellationToken);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.OperationPollMaxDelay.Ticks));
        }
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

    private Task<T> SendAsync<T>(HttpMethod method, string relativeUri, object? body, CancellationToken cancellationToken) =>
        _transport.SendJsonAsync<T>(method, new Uri(_baseUri, relativeUri), body, idempotent: true, cancellationToken);
}
