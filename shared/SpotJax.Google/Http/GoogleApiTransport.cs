using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Polly;
using Polly.Retry;
using Polly.Timeout;
using SpotJax.Core.Ports;

namespace SpotJax.Google.Http;

/// <summary>
/// The one HTTP path of every Google REST client here: the bearer token and quota project, a deadline on every call,
/// retries with exponential backoff and jitter for idempotent calls on UNAVAILABLE,
/// RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED and INTERNAL (never on INVALID_ARGUMENT, PERMISSION_DENIED,
/// FAILED_PRECONDITION and the like), one retry with a fresh token after a 401, and every failure
/// turned into a <see cref="GoogleApiException"/> classified by the envelope's <c>error.status</c>.
/// </summary>
/// <remarks>
/// A server that names its own wait (<c>Retry-After</c>, or a <c>google.rpc.RetryInfo</c> detail) is obeyed:
/// the retry comes no sooner than that, plus up to half of it again at random so that callers refused together
/// do not come back together. A wait longer than <see cref="GoogleApiOptions.MaxDelay"/> is not sat out in the
/// call: the error is thrown at once with <see cref="GoogleApiException.RetryAfter"/> set, for the caller to
/// schedule the next try (docs/back-pressure.md).
/// </remarks>
public sealed class GoogleApiTransport
{
    /// <summary>The header naming the quota project of a call (https://cloud.google.com/docs/quotas/set-quota-project).</summary>
    public const string UserProjectHeader = "x-goog-user-project";

    private const int MaxErrorBodyChars = 500;

    private readonly HttpClient http;
    private readonly IAccessTokenSource tokens;
    private readonly ResiliencePipeline retrying;
    private readonly ResiliencePipeline once;
    private readonly TimeProvider clock;

    public GoogleApiTransport(HttpClient http, IAccessTokenSource tokens, GoogleApiOptions? options = null, TimeProvider? time = null)
    {
        this.http = http;
        this.tokens = tokens;
        Options = options ?? new GoogleApiOptions();
        clock = time ?? TimeProvider.System;
        retrying = new ResiliencePipelineBuilder { TimeProvider = clock }
            .AddTimeout(Options.Deadline)
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<GoogleApiException>(ShouldRetryNow),
                DelayGenerator = args => ValueTask.FromResult(args.Outcome.Exception is GoogleApiException { RetryAfter: { } wait } ? ServerDelay(wait, Random.Shared.NextDouble()) : (TimeSpan?)null),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = Options.BaseDelay,
                MaxDelay = Options.MaxDelay,
                MaxRetryAttempts = Options.MaxRetries,
            })
            .Build();
        once = new ResiliencePipelineBuilder { TimeProvider = clock }.AddTimeout(Options.Deadline).Build();
    }

    public GoogleApiOptions Options { get; }

    /// <summary>
    /// The pause before retrying a call the server asked to wait <paramref name="wait"/> for: at least that, plus
    /// <paramref name="jitterSample"/> (in [0, 1)) times half of it, so that refused callers spread out.
    /// </summary>
    public static TimeSpan ServerDelay(TimeSpan wait, double jitterSample) =>
        wait <= TimeSpan.Zero ? TimeSpan.Zero : wait + wait * (0.5 * Math.Clamp(jitterSample, 0, 1));

    /// <summary>
    /// Whether the transport sends the call again itself: a retryable code, unless the server asked for a wait
    /// longer than <see cref="GoogleApiOptions.MaxDelay"/>, or refused a rate quota without naming a wait (Google asks
    /// for at least 30 s after a 429 quota error, https://cloud.google.com/service-usage/docs/troubleshooting);
    /// those are the caller's to schedule.
    /// </summary>
    private bool ShouldRetryNow(GoogleApiException e) =>
        IsRetryable(e.Status) && !(e.RetryAfter > Options.MaxDelay) && !(e.Reason == "RATE_LIMIT_EXCEEDED" && e.RetryAfter is null);

    /// <summary>The codes worth sending the same idempotent call again for.</summary>
    public static bool IsRetryable(string status) =>
        status is "UNAVAILABLE" or "RESOURCE_EXHAUSTED" or "DEADLINE_EXCEEDED" or "INTERNAL";

    /// <summary>Sends a call and reads its JSON answer.</summary>
    /// <param name="idempotent">Whether the call may be sent again after a transient failure.</param>
    public async Task<T> SendJsonAsync<T>(HttpMethod method, Uri uri, object? body, bool idempotent, CancellationToken cancellationToken)
    {
        var text = await SendAsync(method, uri, body, idempotent, cancellationToken);
        try
        {
            return JsonSerializer.Deserialize<T>(text, GoogleJson.Options)
                ?? throw new GoogleApiException(HttpStatusCode.OK, "UNKNOWN", $"{method} {uri}: empty answer");
        }
        catch (JsonException e)
        {
            throw new GoogleApiException(HttpStatusCode.OK, "UNKNOWN", $"{method} {uri}: unreadable answer: {e.Message}");
        }
    }

    /// <summary>Sends a call and returns the body of its successful answer.</summary>
    public async Task<string> SendAsync(HttpMethod method, Uri uri, object? body, bool idempotent, CancellationToken cancellationToken)
    {
        var pipeline = idempotent ? retrying : once;
        try
        {
            return await pipeline.ExecuteAsync(async ct => await AttemptAsync(method, uri, body, ct), cancellationToken);
        }
        catch (TimeoutRejectedException)
        {
            throw new GoogleApiException(HttpStatusCode.GatewayTimeout, "DEADLINE_EXCEEDED", $"{method} {uri}: no answer within {Options.Deadline}");
        }
    }

    private async Task<string> AttemptAsync(HttpMethod method, Uri uri, object? body, CancellationToken cancellationToken)
    {
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attempt.CancelAfter(Options.AttemptTimeout);
        try
        {
            var (status, text, retryAfter) = await ExchangeAsync(method, uri, body, refresh: false, attempt.Token);
            if (status == HttpStatusCode.Unauthorized)
            {
                (status, text, retryAfter) = await ExchangeAsync(method, uri, body, refresh: true, attempt.Token);
            }

            return (int)status is >= 200 and < 300 ? text : throw ToException(status, text, retryAfter);
        }
        catch (HttpRequestException e)
        {
            throw new GoogleApiException(HttpStatusCode.ServiceUnavailable, "UNAVAILABLE", $"{method} {uri}: {e.Message}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new GoogleApiException(HttpStatusCode.GatewayTimeout, "DEADLINE_EXCEEDED", $"{method} {uri}: no answer within {Options.AttemptTimeout}");
        }
    }

    private async Task<(HttpStatusCode Status, string Body, TimeSpan? RetryAfter)> ExchangeAsync(HttpMethod method, Uri uri, object? body, bool refresh, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, uri);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body, body.GetType(), options: GoogleJson.Options);
        }

        if (await tokens.GetAccessTokenAsync(refresh, cancellationToken) is { Length: > 0 } token)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (await tokens.GetQuotaProjectAsync(cancellationToken) is { Length: > 0 } quotaProject)
        {
            request.Headers.Add(UserProjectHeader, quotaProject);
        }

        using var response = await http.SendAsync(request, cancellationToken);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken), RetryAfterOf(response.Headers.RetryAfter));
    }

    /// <summary>The <c>Retry-After</c> header as a wait: delta-seconds, or an HTTP date counted from the clock (RFC 9110 §10.2.3).</summary>
    private TimeSpan? RetryAfterOf(RetryConditionHeaderValue? header) => header switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - clock.GetUtcNow() is var left && left > TimeSpan.Zero ? left : TimeSpan.Zero,
        _ => null,
    };

    /// <summary>
    /// A failed answer as a <see cref="GoogleApiException"/>: the envelope's <c>status</c> when the body
    /// is an envelope, otherwise a name derived from the HTTP code. Its <see cref="GoogleApiException.RetryAfter"/> is
    /// the larger of <paramref name="retryAfter"/> (the header) and a <c>google.rpc.RetryInfo</c> detail's delay.
    /// </summary>
    public static GoogleApiException ToException(HttpStatusCode httpStatus, string body, TimeSpan? retryAfter = null)
    {
        ErrorBody? error = null;
        try
        {
            error = JsonSerializer.Deserialize<ErrorEnvelope>(body, GoogleJson.Options)?.Error;
        }
        catch (JsonException)
        {
            // Proxies and load balancers answer with HTML or plain text; the HTTP code is all there is.
        }

        var status = string.IsNullOrEmpty(error?.Status) ? StatusFromHttp(httpStatus) : error.Status;
        var message = string.IsNullOrEmpty(error?.Message) ? Truncate(body) : error.Message;
        var wait = (retryAfter, error?.RetryDelay) switch
        {
            ({ } header, { } detail) => header > detail ? header : detail,
            (var header, var detail) => header ?? detail,
        };
        return new GoogleApiException(httpStatus, status, message, error?.Reason) { RetryAfter = wait };
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
}
