using System.Text.Json;
using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Core.Ports;

namespace SpotJax.Core.Steps;

/// <summary>
/// <c>submit</c>, on <c>spotjax-jobs</c>: a job document (JSON or YAML) creates a job; a cancel
/// command <c>{"cancel": "JOB_ID"}</c> cancels one. The job id is derived from the attribute
/// <c>submissionId</c> when the client sets one, else from the Pub/Sub message id.
/// </summary>
public sealed class SubmitFunction(JobSubmitter submitter, JobTransitions transitions, StepPublisher steps, TimeProvider time) : IPubSubFunction
{
    public const string SubmissionIdAttribute = "submissionId";

    public async Task HandleAsync(PubSubMessage message, CancellationToken cancellationToken)
    {
        if (TryReadCancel(message.Data, out var jobId))
        {
            await CancelAsync(jobId, cancellationToken);
            return;
        }

        await submitter.SubmitAsync(message.Data, SubmissionKey(message), cancellationToken);
    }

    /// <summary>What makes this submission unique; redeliveries of it give the same key.</summary>
    public static string SubmissionKey(PubSubMessage message) =>
        message.Attributes.TryGetValue(SubmissionIdAttribute, out var id) && id.Length is > 0 and <= 200
            ? $"client:{id}"
            : $"pubsub:{message.MessageId}";

    private async Task CancelAsync(string jobId, CancellationToken ct)
    {
        if (!JobId.IsValid(jobId))
        {
            throw new MalformedMessageException($"cannot cancel '{jobId}': not a job id");
        }

        HandledJob.Report(jobId);

        var decision = await transitions.ApplyAsync(jobId, job => JobLifecycle.RequestCancel(job, time.GetUtcNow()), ct)
            ?? throw new MalformedMessageException($"cannot cancel {jobId}: no such job");
        if (decision.Verdict is Verdict.Apply or Verdict.AlreadyApplied)
        {
            await steps.FinishAsync(jobId, decision.Job.Attempt, ct);
        }
    }

    private static bool TryReadCancel(byte[] data, out string jobId)
    {
        jobId = "";
        if (!JobDocumentEncoding.TryDecode(data, out var text, out _))
        {
            // The submitter rejects it, naming the encoding problem.
            return false;
        }

        try
        {
            using var json = JsonDocument.Parse(text);
            var root = json.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("cancel", out var cancel) &&
                cancel.ValueKind == JsonValueKind.String)
            {
                jobId = cancel.GetString()!;
                return true;
            }
        }
        catch (JsonException)
        {
            // Not JSON: a YAML job document.
        }

        return false;
    }
}
