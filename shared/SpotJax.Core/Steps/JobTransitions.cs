using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Core.Ports;

namespace SpotJax.Core.Steps;

/// <summary>
/// Read-decide-write with compare-and-set: reads the job, asks the state machine, and writes the
/// decision only if nobody changed the job meanwhile; on a lost race it reads again and decides again.
/// </summary>
public sealed class JobTransitions(IJobStore store)
{
    private const int MaxRounds = 8;

    /// <summary>The decision that stands (applied, already applied, ignored, or not yet); null when the job does not exist.</summary>
    public async Task<Decision?> ApplyAsync(string jobId, Func<Job, Decision> decide, CancellationToken ct)
    {
        for (var round = 0; round < MaxRounds; round++)
        {
            var job = await store.GetAsync(jobId, ct);
            if (job is null)
            {
                return null;
            }

            var decision = decide(job);
            if (decision.Verdict != Verdict.Apply)
            {
                return decision;
            }

            if (await store.TryUpdateAsync(decision.Job, job.Revision, decision.Entry, ct))
            {
                return decision;
            }
        }

        throw new TransientException($"job {jobId}: too much contention, retrying later");
    }
}
