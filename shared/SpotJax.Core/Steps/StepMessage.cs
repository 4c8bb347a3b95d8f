using System.Text.Json;
using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Core.Ports;

namespace SpotJax.Core.Steps;

/// <summary>The body of a lifecycle step message (provision, launch, recover, finish).</summary>
public sealed record StepMessage(string JobId, int Attempt)
{
    /// <summary>For <c>recover</c>: why the attempt ended.</summary>
    public AttemptEnd? Cause { get; init; }

    public string? Detail { get; init; }

    public int? ExitCode { get; init; }

    /// <summary>For <c>recover</c> after a failed script: the last lines of its output, already bounded and sanitized.</summary>
    public string? OutputTail { get; init; }

    public byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, SpotJaxJson.Options);

    /// <summary>Parses and validates a delivered step message; a malformed one is a permanent error.</summary>
    public static StepMessage Parse(PubSubMessage message)
    {
        StepMessage? step;
        try
        {
            step = JsonSerializer.Deserialize<StepMessage>(message.Data, SpotJaxJson.Options);
        }
        catch (JsonException e)
        {
            throw new MalformedMessageException($"message {message.MessageId} is not a step message: {e.Message}");
        }

        if (step is null || !global::SpotJax.Core.Jobs.JobId.IsValid(step.JobId) || step.Attempt is < 0 or > 1_000_000)
        {
            throw new MalformedMessageException($"message {message.MessageId} has no valid jobId and attempt");
        }

        return step;
    }
}
