using System.CommandLine;
using System.Net;
using System.Text.Json;
using Spectre.Console;
using SpotJax.Core.Jobs;
using SpotJax.Functions.Local;

namespace SpotJax.Cli;

/// <summary>
/// <c>spotjax local preempt JOB [--slice N]</c>: a Spot preemption of a job's current attempt on the local plane
/// (of one slice's node only with <c>--slice</c>).
/// A job with no attempt on a TPU (finished, or between attempts) is refused in words that say its
/// state and what to do, whether the job's document says so before the call or the simulator finds
/// the attempt gone because the job moved on meanwhile.
/// </summary>
public static class LocalPreemptCommand
{
    public static Command Build()
    {
        var stateDir = LocalCommand.StateDirOption();
        var job = new Argument<string>("job") { Description = "The job whose current attempt's TPU is taken back." };
        var slice = new Option<int?>("--slice") { Description = "A multislice job: take back only this slice's node (0 is the first); the attempt ends for every slice all the same." };
        var command = new Command("preempt", """
            Inject a Spot preemption into a job's running attempt on the local plane, to watch it
            recover: the workers get SIGTERM, then the control plane provisions the next attempt.
            Exits 4 when there is no such job or it has no attempt to preempt now (it has
            finished, or is between attempts), and 5 when the local plane is not running.

            Examples:
              spotjax local preempt quickstart-3f9a0c12be
              spotjax local preempt multislice-8d41e07a2c --slice 1
            """)
        {
            job, stateDir, slice,
        };
        command.SetAction((parse, ct) => Consoles.RunAsync(
            async console =>
            {
                var root = parse.GetValue(stateDir)?.FullName ?? CliPaths.DefaultLocalStateDir;
                var plane = LocalPlaneInfo.ReadLive(root)
                    ?? throw new CliException(ExitCodes.Unavailable, $"the local control plane in {root} is not running: start it with `spotjax local up --detach`");
                var id = parse.GetValue(job)!;
                await using var target = Target.OpenLocal(root);
                var before = await target.Store.GetAsync(id, ct) ?? throw NoSuchJob(id, target);
                if (NothingToPreempt(before) is { } words)
                {
                    throw new CliException(ExitCodes.NotFound, words);
                }

                if (NoSuchSlice(before, parse.GetValue(slice)) is { } sliceWords)
                {
                    throw new CliException(ExitCodes.Usage, sliceWords);
                }

                using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
                var sliceQuery = parse.GetValue(slice) is { } index ? FormattableString.Invariant($"?slice={index}") : "";
                using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(plane.Url, $"local/preempt/{Uri.EscapeDataString(id)}{sliceQuery}"));
                request.Headers.Authorization = new("Bearer", plane.Token);
                using var response = await http.SendAsync(request, ct);
                if (response.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.NotFound)
                {
                    // The simulator found no ACTIVE queued resource: the job moved on since it was read.
                    var reason = ErrorMessage(await response.Content.ReadAsStringAsync(ct));
                    var after = await target.Store.GetAsync(id, ct) ?? throw NoSuchJob(id, target);
                    throw new CliException(ExitCodes.NotFound, Refused(after, reason));
                }

                if (!response.IsSuccessStatusCode)
                {
                    throw new CliException(ExitCodes.Unavailable, $"the local plane at {plane.Url} did not preempt {id}: {(int)response.StatusCode} {ErrorMessage(await response.Content.ReadAsStringAsync(ct))}; see {Path.Combine(root, "plane.log")}");
                }

                console.MarkupLineInterpolated($"Preempted attempt {before.Attempt} of job {id}: its workers got SIGTERM. Follow the recovery with `spotjax logs {id} --local --follow`.");
                return ExitCodes.Succeeded;
            },
            ct));
        return command;
    }

    /// <summary>
    /// Why a job in this state has no attempt to preempt, and what to do; null when its current
    /// attempt may hold an ACTIVE TPU (provisioning, launching or running), which only the simulator can tell.
    /// </summary>
    internal static string? NothingToPreempt(Job job) => job.State switch
    {
        _ when job.State.IsTerminal() =>
            $"job {job.Id} has already {job.State.ToWire()}; nothing to preempt (preempt a job while `spotjax status JOB --local` shows it RUNNING)",
        JobState.Cancelling => $"job {job.Id} is being cancelled (CANCELLING); nothing to preempt",
        JobState.Queued => NotYetRunning(job, 1),
        JobState.Recovering => NotYetRunning(job, job.Attempt + 1),
        _ => null,
    };

    /// <summary>Why <paramref name="slice"/> is not one of the job's slices; null when it is, or when none was named.</summary>
    internal static string? NoSuchSlice(Job job, int? slice) =>
        slice is { } index && (index < 0 || index >= (job.Spec?.Slices ?? 1))
            ? FormattableString.Invariant($"job {job.Id} has {job.Spec?.Slices ?? 1} slice(s), numbered from 0: --slice {index} is not one of them")
            : null;

    /// <summary>The words for a preemption the simulator refused, from the job's state read after the refusal.</summary>
    internal static string Refused(Job job, string reason) => NothingToPreempt(job) ?? job.State switch
    {
        // The queued resource is still being created (a PROVISIONING job whose TPU is ACTIVE is preempted).
        JobState.Provisioning => NotYetRunning(job, job.Attempt),

        // LAUNCHING or RUNNING in the job's document, but the TPU is already going: a preemption or a
        // delete that the control plane has not recorded yet.
        _ => $"attempt {job.Attempt} of job {job.Id} is already ending ({job.State.ToWire()} in the job, but the simulator says: {reason}); " +
            $"run `spotjax local preempt {job.Id}` again once `spotjax status {job.Id} --local` shows attempt {job.Attempt + 1} RUNNING",
    };

    private static string NotYetRunning(Job job, int attempt) =>
        (attempt > 1
            ? $"job {job.Id} is between attempts ({job.State.ToWire()}, attempt {attempt} not yet running)"
            : $"job {job.Id} has not started yet ({job.State.ToWire()}, attempt 1 not yet running)") +
        $"; run `spotjax local preempt {job.Id}` again once `spotjax status {job.Id} --local` shows RUNNING";

    private static CliException NoSuchJob(string id, Target target) =>
        new(ExitCodes.NotFound, $"no job {id} in {target.Description}; `spotjax status --local` lists the jobs");

    /// <summary>The message of a REST error envelope, <c>{"error":{"message":...}}</c>; the text itself when it is not one.</summary>
    private static string ErrorMessage(string body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            if (json.RootElement.ValueKind == JsonValueKind.Object &&
                json.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object &&
                error.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String)
            {
                return message.GetString()!;
            }
        }
        catch (JsonException)
        {
            // Not an envelope: say what came.
        }

        return body.Trim();
    }
}
