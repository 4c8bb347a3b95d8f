using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Core.Ports;

namespace SpotJax.Core.Steps;

/// <summary>
/// Turns a submitted job document into a job: used by <c>submit</c> (Pub/Sub) and by
/// <c>bucket-events</c> (a manifest under <c>jobs/</c>). The job id comes from the submission, so a
/// redelivered message or event finds the job it already created.
/// </summary>
public sealed partial class JobSubmitter(IJobStore store, StepPublisher steps, ControlPlaneOptions options, TimeProvider time)
{
    /// <summary>Creates the job (or finds the one this submission created) and asks for its first attempt.</summary>
    public async Task<Job> SubmitAsync(byte[] document, string submissionKey, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        JobSpec spec;
        try
        {
            spec = JobDocument.Parse(document, new JobDocumentOptions { AllowLocalCode = options.AllowLocalCode });
            if (options.Network?.Unreachable(spec.Tpu.Zones) is { } unreachable)
            {
                throw new JobDocumentException([new JobDocumentError("tpu.zones", unreachable)]);
            }
        }
        catch (JobDocumentException e)
        {
            var (rejected, entry) = JobLifecycle.Reject(JobId.From(GuessName(document), submissionKey), submissionKey, e.Message, now);
            rejected = rejected with { Deployment = options.Deployment };
            HandledJob.Report(rejected.Id);
            await store.TryCreateAsync(rejected, entry, ct);
            return await store.GetAsync(rejected.Id, ct) ?? rejected;
        }

        var (job, submitted) = JobLifecycle.Submit(JobId.From(spec.Name, submissionKey), submissionKey, spec, now);
        job = job with { Deployment = options.Deployment };
        HandledJob.Report(job.Id);
        if (!await store.TryCreateAsync(job, submitted, ct))
        {
            job = await store.GetAsync(job.Id, ct) ?? throw new TransientException($"job {job.Id} exists but cannot be read");
        }

        // Also after a duplicate delivery: the first one may have crashed between the two writes.
        if (job.State == JobState.Queued)
        {
            await steps.ProvisionAsync(job.Id, 1, ct);
        }

        return job;
    }

    /// <summary>The name of a document that failed validation, for a readable id of the rejected job.</summary>
    private static string GuessName(byte[] document)
    {
        // Only to name the rejected job: a stray invalid byte elsewhere must not hide a readable name.
        if (!JobDocumentEncoding.TryDecode(document, out var text, out _))
        {
            text = Encoding.UTF8.GetString(document);
        }

        try
        {
            using var json = JsonDocument.Parse(text);
            if (json.RootElement.ValueKind == JsonValueKind.Object &&
                json.RootElement.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
            {
                return name.GetString()!;
            }
        }
        catch (JsonException)
        {
            var match = YamlName().Match(text);
            if (match.Success)
            {
                return match.Groups[1].Value;
            }
        }

        return "rejected";
    }

    [GeneratedRegex(@"^name:\s*['""]?([^'""\r\n#]{1,100})", RegexOptions.Multiline)]
    private static partial Regex YamlName();
}
