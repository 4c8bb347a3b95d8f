using System.Net;
using System.Text;

namespace SpotJax.Google.Tests.Firestore;

/// <summary>
/// Faults injected on the way to the real emulator, on the first <c>:commit</c> only: a competing
/// write just before it, an ABORTED answer instead of it (the emulator's own envelope), or its
/// answer lost after the emulator applied it. Every other call passes through untouched.
/// </summary>
internal sealed class CommitFaults(Func<Task>? beforeFirstCommit = null, bool abortFirst = false, bool loseFirstAnswer = false) : DelegatingHandler
{
    private int _commits;

    /// <summary>The commits sent so far.</summary>
    public int Commits => Volatile.Read(ref _commits);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!request.RequestUri!.AbsolutePath.EndsWith(":commit", StringComparison.Ordinal) || Interlocked.Increment(ref _commits) > 1)
        {
            return await base.SendAsync(request, cancellationToken);
        }

        if (beforeFirstCommit is not null)
        {
            await beforeFirstCommit();
        }

        if (abortFirst)
        {
            return new HttpResponseMessage(HttpStatusCode.Conflict)
            {
                Content = new StringContent(Fixtures.Read("error-aborted.json"), Encoding.UTF8, "application/json"),
            };
        }

        var response = await base.SendAsync(request, cancellationToken);
        if (loseFirstAnswer)
        {
            response.Dispose();
            throw new HttpRequestException("connection reset after the commit was sent (injected)");
        }

        return response;
    }
}
