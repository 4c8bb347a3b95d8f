namespace SpotJax.Core.Jobs;

/// <summary>One problem in a job document.</summary>
/// <param name="Field">Path of the offending field (<c>tpu.zones[1]</c>, <c>env.MY_VAR</c>, <c>args[2]</c>), or <c>document</c>.</param>
/// <param name="Message">What is wrong and what is allowed.</param>
public sealed record JobDocumentError(string Field, string Message)
{
    /// <inheritdoc />
    public override string ToString() => $"{Field}: {Message}";
}
