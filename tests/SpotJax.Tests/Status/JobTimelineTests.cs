using SpotJax.Core.Jobs;
using SpotJax.Core.Status;

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

    [Fact]
    public async Task CheckpointSeries_MaxTextRunWithAnUnfinishedSave_OnlyTheFinishedStepFolders()
    {
        await using var fixture = await PreemptedJob.CreateAsync();
        var prefix = $"{fixture.Job.Id}/ckpt/";
        var names = new[]
        {
            ("run-2024-07-01/checkpoints/500/items/_METADATA", 3),
            ("run-2024-07-01/checkpoints/500/commit_success.txt", 4),
            ("run-2024-07-01/checkpoints/600.orbax-checkpoint-tmp-1733300000/items/_METADATA", 6),
            ("run-2024-07-01/tensorboard/run-2024-07-01/events.out.tfevents.1719800000.host.0.v2", 8),
        };
        foreach (var (name, seconds) in names)
        {
            var path = fixture.Objects.LocalPath(prefix + name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await File.WriteAllTextAsync(path, "x");
            File.SetLastWriteTimeUtc(path, PreemptedJob.Start.AddHours(2).AddSeconds(seconds).UtcDateTime);
        }

        var points = await CheckpointSeries.ReadAsync(fixture.Objects, fixture.Job, CancellationToken.None);

        Assert.Equal(new CheckpointPoint(500, PreemptedJob.Start.AddHours(2).AddSeconds(4)), points[^1]);
        Assert.DoesNotContain(points, p => p.Step is 600 or 2024 or 1 or 1719800000);
    }
}
