using System.Collections.Concurrent;
using System.Net;
using System.Text;
using SpotJax.Core;

namespace SpotJax.Google.Tests.Http;

/// <summary>
/// A Google REST API stand-in on the loopback: it records every request and answers each with
/// what the test's responder returns (a null answer hangs until the server stops), so the real
/// transport and clients run over real HTTP.
/// </summary>
internal sealed class StubApiServer : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Func<RecordedRequest, StubResponse?> _respond;
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _serving;

    private StubApiServer(Func<RecordedRequest, StubResponse?> respond)
    {
        _respond = respond;
        BaseUri = new Uri($"http://127.0.0.1:{LoopbackPorts.Choose()}/");
        _listener.Prefixes.Add(BaseUri.AbsoluteUri);
        _listener.Start();
        _serving = ServeAsync();
    }

    public Uri BaseUri { get; }

    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    /// <summary>A server that answers every request through <paramref name="respond"/>.</summary>
    public static StubApiServer Start(Func<RecordedRequest, StubResponse?> respond) => new(respond);

    /// <summary>A server that answers the n-th request with the n-th response, and later ones with the last.</summary>
    public static StubApiServer Script(params StubResponse?[] responses)
    {
        var next = -1;
        return new StubApiServer(_ => responses[Math.Min(Interlocked.Increment(ref next), responses.Length - 1)]);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        // Close alone: Stop and then Close would unregister the prefix twice, and the managed listener's second
        // unregistering binds the port again (HttpEndPointManager.GetEPListener), failing with "Address already in
        // use" once another test has taken the port.
        _listener.Close();
        await _serving;
        _stopping.Dispose();
    }

    private async Task ServeAsync()
    {
        var handlers = new List<Task>();
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                break;
            }

            handlers.Add(Task.Run(() => AnswerAsync(context)));
        }

        await Task.WhenAll(handlers);
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        try
        {
            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            var request = new RecordedRequest(
                context.Request.HttpMethod,
                context.Request.Url!.PathAndQuery,
                context.Request.Headers["Authorization"],
                await reader.ReadToEndAsync(),
                context.Request.Headers["x-goog-user-project"]);
            _requests.Enqueue(request);
            if (_respond(request) is not { } response)
            {
                try
                {
                    await Task.Delay(Timeout.Infinite, _stopping.Token);
                }
                catch (OperationCanceledException)
                {
                    // Stopping: drop the connection the client stopped waiting for long ago.
                }

                context.Response.Abort();
                return;
            }

            context.Response.StatusCode = response.Status;
            context.Response.ContentType = "application/json; charset=UTF-8";
            var body = Encoding.UTF8.GetBytes(response.Body);
            await context.Response.OutputStream.WriteAsync(body);
            context.Response.Close();
        }
        catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or IOException)
        {
            // The client gave up on this request (a deadline test) or the server is stopping.
        }
    }
}
