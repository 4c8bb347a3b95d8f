using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using SpotJax.Core;

namespace SpotJax.Local.Tests.Workers;

/// <summary>
/// A loopback stand-in for the metadata server and the Cloud Storage JSON API, as much as the node
/// agent uses: the token endpoint, metadata keys with the documented change watch, object download,
/// listing and media upload, and Secret Manager's <c>:access</c> with answers a test queues.
/// </summary>
/// <remarks>
/// Metadata reads follow https://cloud.google.com/compute/docs/metadata/querying-metadata: every answer
/// carries an <c>ETag</c> (here a hash of the value, as the TPU simulator's); <c>?wait_for_change=true</c>
/// answers at once when <c>last_etag</c> differs from the current ETag, and otherwise holds the request
/// until the value changes or <c>timeout_sec</c> passes (without it, until a change). A watched key takes
/// its scripted values one by one, each right after an answer to a request for it and so while the
/// agent's single watch on it has no request outstanding: a change between two polls by construction.
/// </remarks>
internal sealed class FakeGoogleServer : IAsyncDisposable
{
    private const string Token = "test-token";
    private readonly HttpListener listener = new();
    private readonly CancellationTokenSource stopping = new();
    private readonly Lock gate = new();
    private readonly List<Task> answering = [];
    private readonly Task serving;
    private readonly string? noticeKey;
    private readonly Queue<string?> noticeChanges;
    private readonly Dictionary<string, string?> metadata = new()
    {
        ["instance/preempted"] = "FALSE",
        ["instance/maintenance-event"] = "NONE",
    };

    private TaskCompletionSource metadataChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int noticeRequests;
    private int unavailableWaits;
    private int waitsWithoutLastETag;
    private int requestsWithoutFlavorHeader;
    private int requestsWithoutToken;

    private FakeGoogleServer(string? noticeKey, IEnumerable<string?> noticeChanges)
    {
        this.noticeKey = noticeKey;
        this.noticeChanges = new Queue<string?>(noticeChanges);
        var port = LoopbackPorts.Choose();
        Root = $"http://127.0.0.1:{port}";
        listener.Prefixes.Add(Root + "/");
        listener.Start();
        serving = ServeAsync();
    }

    /// <summary>Base URL of the storage API (what SPOTJAX_STORAGE_BASE takes).</summary>
    public string Root { get; }

    public string MetadataUrl => Root + "/computeMetadata/v1/";

    /// <summary>Objects by <c>bucket/name</c>.</summary>
    public ConcurrentDictionary<string, byte[]> Objects { get; } = new();

    /// <summary>
    /// Secret Manager answers by version name (<c>projects/P/secrets/S/versions/V</c>), taken in order; a name
    /// with none left is a 404.
    /// </summary>
    public ConcurrentDictionary<string, ConcurrentQueue<(int Status, string Body)>> SecretAnswers { get; } = new();

    public int NoticeRequests => Volatile.Read(ref noticeRequests);

    /// <summary>Watch requests (<c>wait_for_change=true</c>) that came without the <c>last_etag</c> of an earlier answer.</summary>
    public int WaitsWithoutLastETag => Volatile.Read(ref waitsWithoutLastETag);

    public int RequestsWithoutFlavorHeader => Volatile.Read(ref requestsWithoutFlavorHeader);

    public int RequestsWithoutToken => Volatile.Read(ref requestsWithoutToken);

    /// <summary>
    /// Starts a server whose <paramref name="noticeKey"/> (such as <c>instance/preempted</c>) takes its notice value
    /// right after its first answer, or answers 404 from then on when <paramref name="noticeValue"/> is null (the node
    /// was deleted).
    /// </summary>
    public static FakeGoogleServer Start(string? noticeKey = null, string? noticeValue = null) =>
        new(noticeKey, noticeKey is null ? [] : [noticeValue]);

    /// <summary>
    /// Starts a server whose <paramref name="key"/> takes the values of <paramref name="changes"/> in turn, one right
    /// after each answer to a request for it (a null value: 404 from then on), the first
    /// <paramref name="unavailableWaits"/> watch requests for it answering 503 first; it starts at
    /// <paramref name="initial"/> or the key's usual quiet value.
    /// </summary>
    public static FakeGoogleServer StartWithChanges(string key, IEnumerable<string?> changes, int unavailableWaits = 0, string? initial = null)
    {
        var server = new FakeGoogleServer(key, changes) { unavailableWaits = unavailableWaits };
        if (initial is not null)
        {
            lock (server.gate)
            {
                server.metadata[key] = initial;
            }
        }

        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        listener.Stop();
        await serving;
        Task[] pending;
        lock (gate)
        {
            pending = [.. answering];
        }

        await Task.WhenAll(pending);
        listener.Close();
        stopping.Dispose();
    }

    private async Task ServeAsync()
    {
        while (true)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            // Each request on its own task: a watch held open must not hold up the token or a log upload.
            var answer = RespondAsync(context);
            lock (gate)
            {
                answering.RemoveAll(task => task.IsCompleted);
                answering.Add(answer);
            }
        }
    }

    private async Task RespondAsync(HttpListenerContext context)
    {
        var (status, body, etag) = await AnswerAsync(context.Request);
        try
        {
            context.Response.StatusCode = status;
            if (etag is not null)
            {
                context.Response.Headers["ETag"] = etag;
            }

            await context.Response.OutputStream.WriteAsync(body);
            context.Response.Close();
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
        {
            // The agent hung up (it exits with its script, mid-way through a metadata poll): a real
            // server sees that all the time, and it must not end the serving of everyone else.
            context.Response.Abort();
        }
    }

    private static string ETag(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)).AsSpan(0, 8));

    private async Task<(int Status, byte[] Body, string? ETag)> AnswerMetadataAsync(string key, System.Collections.Specialized.NameValueCollection query)
    {
        var wait = string.Equals(query["wait_for_change"], "true", StringComparison.OrdinalIgnoreCase);
        var lastETag = query["last_etag"];
        if (wait && string.IsNullOrEmpty(lastETag))
        {
            Interlocked.Increment(ref waitsWithoutLastETag);
        }

        if (key == noticeKey)
        {
            Interlocked.Increment(ref noticeRequests);
            if (wait && Interlocked.Decrement(ref unavailableWaits) >= 0)
            {
                // As the real server may for a moment during a maintenance event.
                return (503, "Service Unavailable"u8.ToArray(), null);
            }
        }

        var timeout = int.TryParse(query["timeout_sec"], System.Globalization.CultureInfo.InvariantCulture, out var seconds)
            ? TimeSpan.FromSeconds(seconds)
            : Timeout.InfiniteTimeSpan;
        using var held = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token);
        held.CancelAfter(timeout);
        string? value;
        while (true)
        {
            Task changed;
            lock (gate)
            {
                value = metadata.GetValueOrDefault(key, "FALSE");
                changed = metadataChanged.Task;
            }

            var baseline = string.IsNullOrEmpty(lastETag) ? (value is null ? null : ETag(value)) : lastETag;
            if (!wait || value is null || ETag(value) != baseline)
            {
                break;
            }

            lastETag = baseline;
            try
            {
                await changed.WaitAsync(held.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        if (key == noticeKey)
        {
            ChangeNoticeKey();
        }

        return value is null ? (404, "Not Found"u8.ToArray(), null) : (200, Encoding.ASCII.GetBytes(value), ETag(value));
    }

    private void ChangeNoticeKey()
    {
        TaskCompletionSource changed;
        lock (gate)
        {
            if (!noticeChanges.TryDequeue(out var next))
            {
                return;
            }

            metadata[noticeKey!] = next;
            changed = metadataChanged;
            metadataChanged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    private async Task<(int Status, byte[] Body, string? ETag)> AnswerAsync(HttpListenerRequest request)
    {
        var path = request.Url!.AbsolutePath;
        if (path.StartsWith("/computeMetadata/v1/", StringComparison.Ordinal))
        {
            if (request.Headers["Metadata-Flavor"] != "Google")
            {
                Interlocked.Increment(ref requestsWithoutFlavorHeader);
                return (403, Encoding.ASCII.GetBytes("Missing Metadata-Flavor:Google header."), null);
            }

            var key = path["/computeMetadata/v1/".Length..];
            if (key == "instance/service-accounts/default/token")
            {
                return (200, JsonSerializer.SerializeToUtf8Bytes(new { access_token = Token, expires_in = 3599, token_type = "Bearer" }), null);
            }

            return await AnswerMetadataAsync(key, System.Web.HttpUtility.ParseQueryString(request.Url.Query));
        }

        if (request.Headers["Authorization"] != "Bearer " + Token)
        {
            Interlocked.Increment(ref requestsWithoutToken);
            return (401, [], null);
        }

        if (request.HttpMethod == "GET" && path.StartsWith("/v1/", StringComparison.Ordinal) && path.EndsWith(":access", StringComparison.Ordinal))
        {
            var version = path["/v1/".Length..^":access".Length];
            return SecretAnswers.TryGetValue(version, out var answers) && answers.TryDequeue(out var answer)
                ? (answer.Status, Encoding.UTF8.GetBytes(answer.Body), null)
                : (404, """{"error": {"code": 404, "status": "NOT_FOUND"}}"""u8.ToArray(), null);
        }

        var query = System.Web.HttpUtility.ParseQueryString(request.Url.Query);
        var segments = request.Url.AbsolutePath.Split('/');
        if (request.HttpMethod == "POST" && path.StartsWith("/upload/storage/v1/b/", StringComparison.Ordinal))
        {
            using var content = new MemoryStream();
            await request.InputStream.CopyToAsync(content);
            Objects[$"{segments[5]}/{query["name"]}"] = content.ToArray();
            return (200, "{}"u8.ToArray(), null);
        }

        if (path.StartsWith("/storage/v1/b/", StringComparison.Ordinal) && segments.Length > 6 && segments[5] == "o")
        {
            var name = Uri.UnescapeDataString(string.Join('/', segments[6..]));
            return Objects.TryGetValue($"{segments[4]}/{name}", out var data) ? (200, data, null) : (404, [], null);
        }

        if (path.StartsWith("/storage/v1/b/", StringComparison.Ordinal) && segments.Length == 6 && segments[5] == "o")
        {
            var prefix = $"{segments[4]}/{query["prefix"]}";
            var items = Objects.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).Select(k => new { name = k[(segments[4].Length + 1)..] });
            return (200, JsonSerializer.SerializeToUtf8Bytes(new { kind = "storage#objects", items }), null);
        }

        return (404, [], null);
    }
}
