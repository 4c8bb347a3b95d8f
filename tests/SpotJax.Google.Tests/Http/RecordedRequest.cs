namespace SpotJax.Google.Tests.Http;

/// <summary>One request as <see cref="StubApiServer"/> received it.</summary>
internal sealed record RecordedRequest(string Method, string PathAndQuery, string? Authorization, string Body, string? UserProject = null);
