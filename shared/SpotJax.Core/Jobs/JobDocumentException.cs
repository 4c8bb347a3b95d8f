namespace SpotJax.Core.Jobs;

/// <summary>
/// A job document that cannot become a job. Permanent: the same document fails the same way, so the
/// job is recorded as <c>REJECTED</c> with <see cref="Exception.Message"/> as the reason and never retried.
/// </summary>
public sealed class JobDocumentException : Exception
{
    /// <summary>Creates the exception; the message lists every error, one per line.</summary>
    public JobDocumentException(IReadOnlyList<JobDocumentError> errors)
        : base(Describe(errors))
    {
        Errors = errors;
    }

    /// <summary>Every problem found, in document order as far as it is known.</summary>
    public IReadOnlyList<JobDocumentError> Errors { get; }

    private static string Describe(IReadOnlyList<JobDocumentError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var noun = errors.Count == 1 ? "error" : "errors";
        return $"invalid job document ({errors.Count} {noun}):" + string.Concat(errors.Select(e => $"\n  {e}"));
    }
}
