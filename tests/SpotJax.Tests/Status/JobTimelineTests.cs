using SpotJax.Core.Jobs;
using SpotJax.Core.Status;
using SpotJax.Core.Steps;

namespace SpotJax.Tests.Status;

/// <summary>The attempts and the checkpoint series the status page and <c>spotjax status</c> show.</summary>
public sealed class JobTimelineTests
{
    [Fact]
    public async Task Attempts_PreemptedOnceThenSucceeded_TwoAttemptsTheFirstPreempted()
    {
        await using var fixture = await PreemptedJob.CreateAsync();

        var attempts = JobTimeline.Attempts(await fixture.Store.GetHistoryAsync(fixture.Job.Id, CancellationToken.None));

        Assert.Equal([1, 2], attempts.Select(a => a.Attempt));
        Assert.True(attempts[0].Preempted);
        Assert.Equal(JobState.Recovering, attempts[0].End);
        Assert.Equal(PreemptedJob.Start.AddSeconds(31), attempts[0].RunningAt);
        Assert.Equal(PreemptedJob.Start.AddSeconds(91), attempts[0].EndedAt);
        Assert.False(attempts[1].Preempted);
        Assert.Equal((JobState.Succeeded, "us-central2-b"), (attempts[1].End!.Value, attempts[1].Zone!));
    }

    [Fact]
    public void Attempts_LiveAttempt_HasNoEnd()
    {
        var at = PreemptedJob.Start;
        var history = new[]
        {
            new HistoryEntry(at, null, JobState.Queued, 0, "submitted"),
            new HistoryEntry(at.AddSeconds(1), JobState.Queued, JobState.Provisioning, 1, "provisioning a Spot v4-8 in europe-west4-a"),
            new HistoryEntry(at.AddSeconds(9), JobState.Provisioning, JobState.Launching, 1, "TPU ready with 1 worker(s)"),
        };

        var attempt = Assert.Single(JobTimeline.Attempts(history));

        Assert.Equal(("europe-west4-a", null, null), (attempt.Zone, attempt.RunningAt, attempt.EndedAt));
    }

    [Fact]
    public async Task CheckpointSeries_OrbaxStepFolders_OnePointPerStepAtItsLastWrite()
    {
        await using var fixture = await PreemptedJob.CreateAsync();
        var prefix = $"{fixture.Job.Id}/ckpt/";
        foreach (var (name, seconds) in new[] { ("400/_METADATA", 5), ("400/state/d/0", 7), ("300/_METADATA", 1), ("300/state/d/0", 2) })
        {
            var path = fixture.Objects.LocalPath(prefix + name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await File.WriteAllTextAsync(path, "x");
            File.SetLastWriteTimeUtc(path, PreemptedJob.Start.AddHours(1).AddSeconds(seconds).UtcDateTime);
        }

        var points = await CheckpointSeries.ReadAsync(fixture.Objects, fixture.Job, CancellationToken.None);

        Assert.Equal(12, points.Count);
        Assert.Equal(new CheckpointPoint(300, PreemptedJob.Start.AddHours(1).AddSeconds(2)), points[^2]);
        Assert.Equal(new CheckpointPoint(400, PreemptedJob.Start.AddHours(1).AddSeconds(7)), points[^1]);
    }

    [Fact]
    public async Task CheckpointSeries_CheckpointDirInAnotherBucket_IsEmpty()
    {
        await using var fixture = await PreemptedJob.CreateAsync();
        var elsewhere = fixture.Job with { Spec = fixture.Job.Spec! with { CheckpointDir = "gs://other-bucket/ckpt" } };

        Assert.Empty(await CheckpointSeries.ReadAsync(fixture.Objects, elsewhere, CancellationToken.None));
    }

    [Theory]
    [InlineData("step_00000120.json", 120L)]
    [InlineData("120/state/d/9f3a07e1c2b4d5", 120L)]
    [InlineData("120/state/ocdbt.process_0/manifest.ocdbt", 120L)]
    [InlineData("checkpoint_75/_CHECKPOINT_METADATA", 75L)]
    [InlineData("final.json", null)]
    public void StepOf_CheckpointObjectNames_ReadsTheStepFromTheFirstPart(string name, long? step) =>
        Assert.Equal(step, BucketEventsFunction.StepOf(name));
}
