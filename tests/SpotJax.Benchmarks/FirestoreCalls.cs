using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SpotJax.Benchmarks;

/// <summary>
/// Counts what a job store asks of Firestore, on its HTTP transport: requests by kind, the documents
/// each answer carries (what Firestore bills as reads: one per document a query or get returns, one for
/// a query that returns none) and the writes each commit sends.
/// </summary>
internal sealed class FirestoreCalls : DelegatingHandler
{
    private readonly ConcurrentDictionary<string, long> _requests = new(StringComparer.Ordinal);
    private long _documentsRead;
    private long _billedReads;
    private long _writes;

    public FirestoreCalls()
        : base(new SocketsHttpHandler())
    {
    }

    public long DocumentsRead => Interlocked.Read(ref _documentsRead);

    /// <summary>Reads as Firestore bills them: documents returned, and at least one per query.</summary>
    public long BilledReads => Interlocked.Read(ref _billedReads);

    public long Writes => Interlocked.Read(ref _writes);

    public IReadOnlyDictionary<string, long> Requests => new SortedDictionary<string, long>(_requests, StringComparer.Ordinal);

    public void Reset()
    {
        _requests.Clear();
        Interlocked.Exchange(ref _documentsRead, 0);
        Interlocked.Exchange(ref _billedReads, 0);
        Interlocked.Exchange(ref _writes, 0);
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var path = request.RequestUri!.AbsolutePath;
        var kind = path.EndsWith(":runQuery", StringComparison.Ordinal) ? "runQuery"
            : path.EndsWith(":commit", StringComparison.Ordinal) ? "commit"
            : request.Method == HttpMethod.Get ? "get"
            : request.Method.Method;
        _requests.AddOrUpdate(kind, 1, (_, n) => n + 1);
        if (kind == "commit" && request.Content is { } content)
        {
            var body = JsonNode.Parse(await content.ReadAsStringAsync(cancellationToken));
            Interlocked.Add(ref _writes, body?["writes"]?.AsArray().Count ?? 0);
        }

        var response = await base.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode || kind is not ("runQuery" or "get"))
        {
            return response;
        }

        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        var documents = Documents(kind, text);
        Interlocked.Add(ref _documentsRead, documents);
        Interlocked.Add(ref _billedReads, Math.Max(documents, 1));
        var replaced = new StringContent(text, Encoding.UTF8);
        replaced.Headers.ContentType = response.Content.Headers.ContentType;
        response.Content = replaced;
        return response;
    }

    private static long Documents(string kind, string json)
    {
        using var answer = JsonDocument.Parse(json);
        var root = answer.RootElement;
        if (kind == "runQuery")
        {
            return root.EnumerateArray().Count(e => e.TryGetProperty("document", out _));
        }

        // A document, or a page of a listing.
        return root.TryGetProperty("documents", out var page) ? page.GetArrayLength() : root.TryGetProperty("name", out _) ? 1 : 0;
    }
}
