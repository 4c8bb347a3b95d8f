using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using System.Text.Json;
using System.Text;
using SpotJax.Contracts;
using SpotJax.Core.Ports;
using SpotJax.Google.Http;
using SpotJax.Google.PubSub;
using SpotJax.Google.Tests.Http;

namespace SpotJax.Google.Tests.PubSub;

/// <summary>The publisher's and the puller's bytes on the wire, held to the documented REST shapes in Fixtures/.</summary>
public sealed class PubSubWireFormatTests : IDisposable
{
    private readonly HttpClient _http = new();

    [Fact]
    public async Task PublishBatchAsync_ThreeMessages_SendsTheDocumentedBodyAndReturnsIdsInOrder()
    {
        await using var server = StubApiServer.Script(StubResponse.Ok(Fixture("publish-response.json")));
        var job = """{"name":"llama-pretrain","tpu":{"type":"v4-8","zone":"us-central2-b"},"code":"gs://spotjax-ctl/code/llama.tar.gz","script":"train.py"}""";
        var messages = new[]
        {
            new OutgoingMessage(Encoding.UTF8.GetBytes(job), new Dictionary<string, string> { ["submissionId"] = "ci-run-1842" }),
            new OutgoingMessage([0xfb, 0xff, 0x00, 0x3e, 0x3f], new Dictionary<string, string>()),
            new OutgoingMessage([], new Dictionary<string, string> { ["cancel"] = "llama-pretrain-3f9a0c12be" }),
        };

        var ids = await Publisher(server).PublishBatchAsync("spotjax-jobs", messages, CancellationToken.None);

        Assert.Equal(["2070443601311540", "2070443601311541", "2070443601311542"], ids);
        var request = Assert.Single(server.Requests);
        Assert.Equal(("POST", "/v1/projects/demo/topics/spotjax-jobs:publish"), (request.Method, request.PathAndQuery));
        AssertJsonEqual(Fixture("publish-request.json"), request.Body);
    }

    [Fact]
    public async Task PublishBatchAsync_2500Messages_ThreeCallsOfAtMost1000InOrder()
    {
        await using var server = StubApiServer.Start(AnswerPublish);
        var messages = Enumerable.Range(0, 2500).Select(i => OutgoingMessage.FromText($"m{i}")).ToList();

        var ids = await Publisher(server).PublishBatchAsync("many", messages, CancellationToken.None);

        Assert.Equal([1000, 1000, 500], server.Requests.Select(r => MessagesIn(r.Body).Count));
        Assert.Equal(server.Requests.SelectMany(r => MessagesIn(r.Body)).Select(m => Encoding.UTF8.GetString(Convert.FromBase64String(m!["data"]!.GetValue<string>()))), messages.Select(m => Encoding.UTF8.GetString(m.Data)));
        Assert.Equal(Enumerable.Range(0, 2500).Select(i => $"id-{i}"), ids);
    }

    [Fact]
    public async Task PublishBatchAsync_MessagesBeyond10MB_SplitUnder10MBPerCall()
    {
        await using var server = StubApiServer.Start(AnswerPublish);
        // Random bytes: their base64 holds '+', which the serializer escapes to six bytes; the split must count that.
        var random = new Random(7);
        var messages = Enumerable.Range(0, 11).Select(_ =>
        {
            var data = new byte[700_000];
            random.NextBytes(data);
            return new OutgoingMessage(data, new Dictionary<string, string> { ["kind"] = "blob" });
        }).ToList();

        var ids = await Publisher(server).PublishBatchAsync("big", messages, CancellationToken.None);

        Assert.Equal(11, ids.Count);
        Assert.Equal(2, server.Requests.Count);
        Assert.All(server.Requests, r => Assert.InRange(Encoding.UTF8.GetByteCount(r.Body), 1, PubSubPublisher.MaxRequestBytes));
        var sent = server.Requests.SelectMany(r => MessagesIn(r.Body)).Select(m => Convert.FromBase64String(m!["data"]!.GetValue<string>())).ToList();
        Assert.Equal(messages.Count, sent.Count);
        Assert.All(messages.Zip(sent), pair => Assert.True(pair.First.Data.AsSpan().SequenceEqual(pair.Second)));
    }

    [Fact]
    public async Task Puller_DocumentedPullResponse_DecodesAcksTheHandledAndNacksTheFailed()
    {
        await using var server = StubApiServer.Start(AnswerPull(Fixture("pull-response.json")));
        var received = new ConcurrentDictionary<string, PubSubMessage>();
        var puller = Puller(server, (message, _) =>
        {
            received[message.MessageId] = message;
            // The cancel command fails, so its delivery must be nacked.
            return message.Attributes.ContainsKey("cancel") ? throw new InvalidOperationException("no such job") : Task.CompletedTask;
        });

        await using (puller)
        {
            puller.Start();
            await Eventually.TrueAsync(() => puller.Acknowledged == 1 && puller.Nacked == 1);
        }

        var step = received["2070443601311540"];
        Assert.Equal("""{"jobId":"llama-pretrain-3f9a0c12be","attempt":2}""", Encoding.UTF8.GetString(step.Data));
        Assert.Equal("llama-pretrain-3f9a0c12be", step.Attributes["jobId"]);
        Assert.Equal(DateTimeOffset.Parse("2021-02-26T19:13:55.749Z", System.Globalization.CultureInfo.InvariantCulture), step.PublishTime);
        Assert.Equal(3, step.DeliveryAttempt);
        var cancel = received["2070443601311541"];
        Assert.Empty(cancel.Data);
        Assert.Null(cancel.DeliveryAttempt);
        var pull = server.Requests.First(r => r.PathAndQuery.EndsWith(":pull", StringComparison.Ordinal));
        Assert.Equal("/v1/projects/demo/subscriptions/submit:pull", pull.PathAndQuery);
        AssertJsonEqual("""{"maxMessages":4,"returnImmediately":true}""", pull.Body);
        AssertJsonEqual("""{"ackIds":["RkhRNxkIaFEOT14jPzUgKEUSDQ0TNgBcGgQWLVcjHCdZS3ZZC0AwXFUP"]}""", Single(server, ":acknowledge").Body);
        AssertJsonEqual("""{"ackIds":["RkhRNxkIaFEOT14jPzUgKEUSDQ0TNgBcGgQWLVcjHCdZS3ZZC0AwXFUQ"],"ackDeadlineSeconds":0}""", Single(server, ":modifyAckDeadline").Body);
    }

    [Fact]
    public async Task Puller_EmulatorPullResponse_DecodesAndAcks()
    {
        await using var server = StubApiServer.Start(AnswerPull(Fixture("pull-response-emulator.json")));
        var received = new TaskCompletionSource<PubSubMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        var puller = Puller(server, (message, _) =>
        {
            received.TrySetResult(message);
            return Task.CompletedTask;
        });

        await using (puller)
        {
            puller.Start();
            await Eventually.TrueAsync(() => puller.Acknowledged == 1);
        }

        var message = await received.Task;
        Assert.Equal(("5", "b", 1), (message.MessageId, Encoding.UTF8.GetString(message.Data), message.DeliveryAttempt));
        Assert.Empty(message.Attributes);
        AssertJsonEqual("""{"ackIds":["projects/demo/subscriptions/sub-dl:4"]}""", Single(server, ":acknowledge").Body);
    }

    public void Dispose() => _http.Dispose();

    private PubSubPublisher Publisher(StubApiServer server) =>
        new(new GoogleApiTransport(_http, FixedTokenSource.None), new PubSubClientOptions { Project = "demo", BaseUri = server.BaseUri });

    private PubSubPuller Puller(StubApiServer server, Func<PubSubMessage, CancellationToken, Task> handler) =>
        new(new GoogleApiTransport(_http, FixedTokenSource.None), new PubSubClientOptions { Project = "demo", BaseUri = server.BaseUri }, "submit", handler,
            new PubSubPullerOptions { MaxConcurrency = 4, MaxIdleDelay = TimeSpan.FromMilliseconds(50) });

    /// <summary>The fixture on the first pull, nothing after; every ack and nack succeeds.</summary>
    private static Func<RecordedRequest, StubResponse?> AnswerPull(string firstPull)
    {
        var pulls = 0;
        return request => request.PathAndQuery.EndsWith(":pull", StringComparison.Ordinal) && Interlocked.Increment(ref pulls) == 1
            ? StubResponse.Ok(firstPull)
            : StubResponse.Ok();
    }

    /// <summary>Answers a publish with one id per message, numbered across calls.</summary>
    private static Func<RecordedRequest, StubResponse?> AnswerPublish
    {
        get
        {
            var next = 0;
            var gate = new Lock();
            return request =>
            {
                var count = MessagesIn(request.Body).Count;
                lock (gate)
                {
                    var ids = Enumerable.Range(next, count).Select(i => $"id-{i}").ToList();
                    next += count;
                    return StubResponse.Ok(JsonSerializer.Serialize(new { messageIds = ids }));
                }
            };
        }
    }

    private static JsonArray MessagesIn(string publishBody) => JsonNode.Parse(publishBody)!["messages"]!.AsArray();

    private static RecordedRequest Single(StubApiServer server, string verb) =>
        Assert.Single(server.Requests, r => r.PathAndQuery.EndsWith(verb, StringComparison.Ordinal));

    private static string Fixture(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "PubSub", "Fixtures", name));

    private static void AssertJsonEqual(string expected, string actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), JsonNode.Parse(actual)), $"expected {expected}\nactual {actual}");
}
