using System.Text;
using SpotJax.Contracts;
using SpotJax.Core;
using SpotJax.Core.Jobs;
using SpotJax.Core.Lifecycle;
using SpotJax.Core.Ports;
using SpotJax.Core.Steps;

namespace SpotJax.Tests.Handlers;

/// <summary>
/// What a person sees when a submission or a script goes wrong, through the real handlers: job documents
/// in any accepted encoding on the manifest and message paths, and a failed script's output in the job's error.
/// </summary>
public sealed class JobErrorHandlerTests : IAsyncLifetime
{
    private HandlerHarness h = null!;

    public async Task InitializeAsync() => h = await HandlerHarness.StartAsync();

    public async Task DisposeAsync() => await h.DisposeAsync();

    private static byte[] Utf16(string text) => [.. Encoding.Unicode.Preamble, .. Encoding.Unicode.GetBytes(text)];

    private async Task<Job> UploadManifestAsync(byte[] manifest)
    {
        const string name = "jobs/windows.yaml";
        await h.Objects.PutAsync(name, manifest, CancellationToken.None);
        await h.Functions.BucketEvents.HandleAsync(new StorageObjectEvent(HandlerHarness.Bucket, name, 7, manifest.Length, h.Time.GetUtcNow()), CancellationToken.None);
        return Assert.Single(await h.Store.ListRecentAsync(10, CancellationToken.None));
    }

    [Fact]
    public async Task BucketEvents_Utf16ManifestWithBom_CreatesTheJob()
    {
        var job = await UploadManifestAsync(Utf16(HandlerHarness.JobYaml("gs://spotjax-test/code/x.tar.gz")));

        Assert.Equal(JobState.Queued, job.State);
        Assert.Equal("handler test", job.Spec!.Name);
        Assert.Single(await h.TakeAsync(Topics.Default.Provision));
    }

    [Fact]
    public async Task BucketEvents_ManifestWithInvalidUtf8_IsRejectedNamingTheByteAndOffset()
    {
        var manifest = Encoding.UTF8.GetBytes(HandlerHarness.JobYaml("gs://spotjax-test/code/x.tar.gz"));
        manifest[20] = 0xFF;

        var job = await UploadManifestAsync(manifest);

        Assert.Equal(JobState.Rejected, job.State);
        Assert.Contains("document: is not valid UTF-8: invalid byte 0xFF at offset 20; save it as UTF-8", job.LastError, StringComparison.Ordinal);
        Assert.StartsWith("handler-test-", job.Id, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_Utf16MessageBody_CreatesTheJob()
    {
        await h.Functions.Submit.HandleAsync(h.Message(Utf16(HandlerHarness.JobYaml("gs://spotjax-test/code/x.tar.gz"))), CancellationToken.None);

        var job = Assert.Single(await h.Store.ListRecentAsync(10, CancellationToken.None));
        Assert.Equal((JobState.Queued, "handler test"), (job.State, job.Spec!.Name));
    }

    [Fact]
    public async Task Submit_Utf16CancelCommand_CancelsTheJob()
    {
        var job = await h.SubmitAsync(HandlerHarness.JobYaml("gs://spotjax-test/code/x.tar.gz"));

        await h.Functions.Submit.HandleAsync(h.Message(Utf16($"{{\"cancel\": \"{job.Id}\"}}")), CancellationToken.None);

        Assert.Equal(JobState.Cancelling, (await h.JobAsync(job.Id)).State);
    }

    [Fact]
    public async Task ExitedMarker_WithOutputTail_PutsItAndTheLogIntoTheJobsError()
    {
        var job = await h.RunAsync(await h.SubmitAsync(HandlerHarness.JobYaml(h.Code("import time\ntime.sleep(600)\n"), maxRetries: 0)));
        await h.TakeAsync(Topics.Default.Recover);
        var exited = BucketLayout.Marker(job.Id, 1, 0, MarkerKind.Exited);
        var marker = "{\"exitCode\": 2, \"preemptionNotice\": false, \"outputTail\": \"Traceback\\n  File train.py\\n\\u001b[31mValueError: bad lr\\u001b[0m\\u0007\"}";
        await h.Objects.PutAsync(exited, Encoding.UTF8.GetBytes(marker), CancellationToken.None);

        await h.Functions.BucketEvents.HandleAsync(new StorageObjectEvent(HandlerHarness.Bucket, exited, 1, marker.Length, h.Time.GetUtcNow()), CancellationToken.None);
        var recover = Assert.Single(await h.TakeAsync(Topics.Default.Recover));
        await h.Functions.Recover.HandleAsync(h.Message(recover.ToBytes()), CancellationToken.None);

        job = await h.JobAsync(job.Id);
        var log = $"gs://{HandlerHarness.Bucket}/{job.Id}/logs/attempt-1/worker-0.log";
        Assert.Equal(JobState.Failed, job.State);
        Assert.Equal(
            $"script failed: worker 0 exited 2 (its log: {log}); the end of its output:\nTraceback\n  File train.py\n[31mValueError: bad lr[0m",
            job.LastError);
        var failed = (await h.HistoryAsync(job.Id))[^1];
        Assert.Equal($"script failed: worker 0 exited 2 (its log: {log}); last output line: [31mValueError: bad lr[0m; retry budget exhausted (0)", failed.Cause);
    }

    [Fact]
    public async Task ExitedMarker_OfAnOlderAgentWithoutTail_StillFailsTheAttemptNamingTheLog()
    {
        var job = await h.RunAsync(await h.SubmitAsync(HandlerHarness.JobYaml(h.Code("import time\ntime.sleep(600)\n"))));
        await h.TakeAsync(Topics.Default.Recover);
        var exited = BucketLayout.Marker(job.Id, 1, 0, MarkerKind.Exited);
        await h.Objects.PutAsync(exited, Encoding.UTF8.GetBytes("{\"exitCode\":3,\"preemptionNotice\":false}"), CancellationToken.None);

        await h.Functions.BucketEvents.HandleAsync(new StorageObjectEvent(HandlerHarness.Bucket, exited, 1, 40, h.Time.GetUtcNow()), CancellationToken.None);

        var recover = Assert.Single(await h.TakeAsync(Topics.Default.Recover));
        Assert.Equal((AttemptEnd.Failed, 3, null), (recover.Cause, recover.ExitCode, recover.OutputTail));
        Assert.Equal($"worker 0 exited 3 (its log: gs://{HandlerHarness.Bucket}/{job.Id}/logs/attempt-1/worker-0.log)", recover.Detail);
    }

    [Fact]
    public async Task Agent_ScriptPrintingMegabytesThenFailing_MarkerCarriesOnlyABoundedTailEndingWithItsStderr()
    {
        const string script = """
            import sys
            for i in range(40000):
                print("progress line %d " % i + "x" * 60)
            sys.stdout.flush()
            sys.stderr.write("fatal: learning rate must be positive\n")
            sys.exit(2)
            """;
        var job = await h.RunAsync(await h.SubmitAsync(HandlerHarness.JobYaml(h.Code(script), maxRetries: 0)));
        var exited = BucketLayout.Marker(job.Id, 1, 0, MarkerKind.Exited);
        byte[]? body = null;
        await Eventually.TrueAsync(async () => (body = await h.Objects.GetAsync(exited, CancellationToken.None)) is not null, TimeSpan.FromSeconds(60));

        var marker = ExitMarker.Parse(body!);

        Assert.Equal(2, marker.ExitCode);
        Assert.True(body!.Length < 3 * 1024, $"marker of {body.Length} bytes");
        Assert.EndsWith("\nfatal: learning rate must be positive", marker.OutputTail, StringComparison.Ordinal);
        Assert.True(marker.OutputTail!.Split('\n').Length <= ExitMarker.MaxTailLines);
        Assert.True(new FileInfo(Path.Combine(h.Root, "bucket", job.Id, "logs", "attempt-1", "worker-0.log")).Length > 2_000_000);
    }

    [Fact]
    public void SafeOutputTail_ForgedOversizedTail_IsCutToTheLastLinesAndCharacters()
    {
        var marker = new ExitMarker { ExitCode = 1, OutputTail = string.Join('\n', Enumerable.Range(0, 5000).Select(i => $"line {i}\u001b]0;title\u0007")) };

        var tail = marker.SafeOutputTail()!;

        Assert.True(tail.Length <= ExitMarker.MaxTailChars);
        var lines = tail.Split('\n');
        Assert.Equal(ExitMarker.MaxTailLines, lines.Length);
        Assert.Equal("line 4999]0;title", lines[^1]);
        Assert.DoesNotContain(tail, c => char.IsControl(c) && c != '\n');
    }
}
