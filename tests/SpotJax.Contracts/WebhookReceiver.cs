using System.Collections.Concurrent;
using System.Net;
using System.Text;
using SpotJax.Core;

namespace SpotJax.Contracts;

/// <summary>
/// A webhook on the loopback (a real HTTP listener): it records every POST with its
/// <c>SpotJax-Event-Id</c> header and answers with the status the test scripted (200 once the
/// script is used up), or, when told to hang, holds every request until it stops.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly HttpListener listener = new();
    private readonly ConcurrentQueue<int> script;
    private readonly ConcurrentQueue<WebhookDelivery> deliveries = new();
    private readonly CancellationTokenSource stopping = new();
    private readonly bool hang;
    private readonly Task serving;

    private WebhookReceiver(IEnumerable<int> statuses, bool hang)
    {
        script = new ConcurrentQueue<int>(statuses);
        this.hang = hang;
        Url = $"http://127.0.0.1:{LoopbackPorts.Choose()}/hook/";
        listener.Prefixes.Add(Url);
        listener.Start();
        serving = ServeAsync();
    }

    /// <summary>The URL to post to.</summary>
    public string Url { get; }

    /// <summary>Every POST received, in arrival order, with the status it was answered (0 while hanging).</summary>
    public IReadOnlyList<WebhookDelivery> Deliveries => [.. deliveries];

    /// <summary>The deliveries answered 2xx.</summary>
    public IReadOnlyList<WebhookDelivery> Accepted => [.. deliveries.Where(d => d.Status is >= 200 and < 300)];

    /// <summary>A receiver answering the n-th POST with <paramref name="statuses"/>[n], later ones with 200.</summary>
    public static WebhookReceiver Start(params int[] statuses) => new(statuses, hang: false);

    /// <summary>A receiver that never answers (a dead webhook that accepts connections).</summary>
    public static WebhookReceiver Hanging() => new([], hang: true);

    /// <summary>A URL on a loopback port nobody listens on (a dead webhook that refuses connections).</summary>
    public static string RefusingUrl() => $"http://127.0.0.1:{LoopbackPorts.Choose()}/hook/";

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        // Close alone: Stop and then Close would unregister the prefix twice, and the managed listener's second
        // unregistering binds the port again (HttpEndPointManager.GetEPListener), failing with "Address already in
        // use" once another test has taken the port.
        listener.Close();
        await serving;
        stopping.Dispose();
    }

    private async Task ServeAsync()
    {
        var handlers = new List<Task>();
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
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
            var body = await reader.ReadToEndAsync(stopping.Token);
            var eventId = context.Request.Headers["SpotJax-Event-Id"] ?? "";
            if (hang)
            {
                deliveries.Enqueue(new WebhookDelivery(eventId, body, context.Request.ContentType, 0));
                await Task.Delay(Timeout.Infinite, stopping.Token);
                return;
            }

            var status = script.TryDequeue(out var scripted) ? scripted : 200;
            deliveries.Enqueue(new WebhookDelivery(eventId, body, context.Request.ContentType, status));
            context.Response.StatusCode = status;
            context.Response.Close();
        }
        catch (Exception e) when (e is OperationCanceledException or HttpListenerException or ObjectDisposedException or IOException)
        {
            // Stopping, or the sender gave up.
        }
    }
}

/// <summary>One POST a <see cref="WebhookReceiver"/> got.</summary>
public sealed record WebhookDelivery(string EventId, string Body, string? ContentType, int Status);
