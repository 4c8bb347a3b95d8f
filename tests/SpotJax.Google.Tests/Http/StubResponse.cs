namespace SpotJax.Google.Tests.Http;

/// <summary>An answer of <see cref="StubApiServer"/>.</summary>
internal sealed record StubResponse(int Status, string Body)
{
    public static StubResponse Ok(string body = "{}") => new(200, body);

    /// <summary>A failure in the REST error envelope; <paramref name="status"/> and <paramref name="http"/> need not agree.</summary>
    public static StubResponse Error(int http, string status) =>
        new(http, $$$"""{"error":{"code":{{{http}}},"message":"stub says {{{status}}}","status":"{{{status}}}"}}""");
}
