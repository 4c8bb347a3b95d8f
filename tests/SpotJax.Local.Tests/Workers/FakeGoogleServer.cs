using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using SpotJax.Core;

namespace SpotJax.Local.Tests.Workers;

/// <summary>
/// A loopback stand-in for the metadata server and the Cloud Storage JSON API, as much as the node
/// agent uses: the token endpoint, a notice key that turns to its notice value after the first
/// request, object download, listing and media upload, and Secret Manager's <c>:access</c> with
/// answers a test queues.
/// </summary>
internal sealed class FakeGoogleServer : IAsyncDisposable
{
    private const string Token = "test-token";
    private readonly HttpListener listener = new();
    private readonly Task serving;
    private readonly string? noticeKey;
    private readonly string? noticeValue;
    private int noticeRequests;
    private int requestsWithoutFlavorHeader;
    private int requestsWithoutToken;

    private FakeGoogleServer(string? noticeKey, string? noticeValue)
    {
        this.noticeKey = noticeKey;
        this.noticeValue = noticeValue;
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

    public int RequestsWithoutFlavorHeader => Volatile.Read(ref requestsWithoutFlavorHeader);

    public int RequestsWithoutToken => Volatile.Read(ref requestsWithoutToken);

    /// <summary>
    /// Starts a server whose <paramref name="noticeKey"/> (such as <c>instance/preempted</c>) answers its notice value
    /// from the second request on, or 404 from then on when <paramref name="noticeValue"/> is null (the node was deleted).
    /// </summary>
    public static FakeGoogleServer Start(string? noticeKey = null, string? noticeValue = null) => new(noticeKey, noticeValue);

    public async ValueTask DisposeAsync()
    {
        listener.Stop();
        await serving;
        listener.Close();
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

            var (status, body) = await AnswerAsync(context.Request);
            try
            {
                context.Response.StatusCode = status;
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
    }

    private async Task<(int Status, byte[] Body)> AnswerAsync(HttpListenerRequest request)
    {
        var path = request.Url!.AbsolutePath;
        if (path.StartsWith("/computeMetadata/v1/", StringComparison.Ordinal))
        {
            if (request.Headers["Metadata-Flavor"] != "Google")
            {
                Interlocked.Increment(ref requestsWithoutFlavorHeader);
                return (403, Encoding.ASCII.GetBytes("Missing Metadata-Flavor:Google header."));
            }

            var key = path["/computeMetadata/v1/".Length..];
            if (key == "instance/service-accounts/default/token")
            {
                return (200, JsonSerializer.SerializeToUtf8Bytes(new { access_token = Token, expires_in = 3599, token_type = "Bearer" }));
            }

            if (key == noticeKey)
            {
                var first = Interlocked.Increment(ref noticeRequests) == 1;
                if (!first && noticeValue is null)
                {
                    return (404, Encoding.ASCII.GetBytes("Not Found"));
                }

                return (200, Encoding.ASCII.GetBytes(first ? "FALSE" : noticeValue!));
            }

            return (200, Encoding.ASCII.GetBytes(key == "instance/maintenance-event" ? "NONE" : "FALSE"));
        }

        if (request.Headers["Authorization"] != "Bearer " + Token)
        {
            Interlocked.Increment(ref requestsWithoutToken);
            return (401, []);
        }

        if (request.HttpMethod == "GET" && path.StartsWith("/v1/", StringComparison.Ordinal) && path.EndsWith(":access", StringComparison.Ordinal))
        {
            var version = path["/v1/".Length..^":access".Length];
            return SecretAnswers.TryGetValue(version, out var answers) && answers.TryDequeue(out var answer)
                ? (answer.Status, Encoding.UTF8.GetBytes(answer.Body))
                : (404, """{"error": {"code": 404, "status": "NOT_FOUND"}}"""u8.ToArray());
        }

        var query = System.Web.HttpUtility.ParseQueryString(request.Url.Query);
        var segments = request.Url.AbsolutePath.Split('/');
        if (request.HttpMethod == "POST" && path.StartsWith("/upload/storage/v1/b/", StringComparison.Ordinal))
        {
            using var content = new MemoryStream();
            await request.InputStream.CopyToAsync(content);
            Objects[$"{segments[5]}/{query["name"]}"] = content.ToArray();
            return (200, "{}"u8.ToArray());
        }

        if (path.StartsWith("/storage/v1/b/", StringComparison.Ordinal) && segments.Length > 6 && segments[5] == "o")
        {
            var name = Uri.UnescapeDataString(string.Join('/', segments[6..]));
            return Objects.TryGetValue($"{segments[4]}/{name}", out var data) ? (200, data) : (404, []);
        }

        if (path.StartsWith("/storage/v1/b/", StringComparison.Ordinal) && segments.Length == 6 && segments[5] == "o")
        {
            var prefix = $"{segments[4]}/{query["prefix"]}";
            var items = Objects.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).Select(k => new { name = k[(segments[4].Length + 1)..] });
            return (200, JsonSerializer.SerializeToUtf8Bytes(new { kind = "storage#objects", items }));
        }

        return (404, []);
    }
}
