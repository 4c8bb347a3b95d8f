using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using SpotJax.Core;
using SpotJax.Core.Cost;
using SpotJax.Core.Jobs;
using SpotJax.Core.Status;
using SpotJax.Core.Steps;

namespace SpotJax.Cli;

/// <summary><c>spotjax status [JOB] [--json]</c>: the queue as a table, or one job's attempts, preemptions, checkpoint step, budgets and cost.</summary>
public static class StatusCommand
{
    public static Command Build()
    {
        var job = new Argument<string?>("job") { Description = "A job id; without it, the most recent jobs.", Arity = ArgumentArity.ZeroOrOne };
        var limit = new Option<int>("--limit", "-n") { Description = "How many recent jobs to list.", DefaultValueFactory = _ => 20 };
        var json = new Option<bool>("--json") { Description = "Print JSON (the job documents with their cost, and for one job its history, attempts and checkpoints), for scripts." };
        var targets = new TargetOptions();
        var command = new Command("status", """
            Show the queue, or one job: its attempts, preemptions, checkpoint step, budgets spent and cost.
            Exits 4 when the job does not exist.

            Examples:
              spotjax status --local
              spotjax status quickstart-3f9a0c12be --local
              spotjax status --json | jq -r '.[] | select(.state == "RUNNING") | .id'
            """)
        {
            job, limit, json,
        };
        targets.AddTo(command);
        command.SetAction((parse, ct) => Consoles.RunAsync(
            async console =>
            {
                await using var target = await targets.Resolve(parse).OpenAsync(ct);
                var now = TimeProvider.System.GetUtcNow();
                if (parse.GetValue(job) is { } id)
                {
                    var report = await JobReport.LoadAsync(target.Store, target.Objects, id, ct)
                        ?? throw new CliException(ExitCodes.NotFound, $"no job {id} in {target.Description}; `spotjax status` lists the recent jobs (add --local for local mode)");
                    if (parse.GetValue(json))
                    {
                        var document = new JsonObject
                        {
                            ["job"] = JsonSerializer.SerializeToNode(report.Job, SpotJaxJson.Options),
                            ["cost"] = Cost(report.Job, now),
                            ["attempts"] = JsonSerializer.SerializeToNode(report.Attempts, SpotJaxJson.Options),
                            ["checkpoints"] = JsonSerializer.SerializeToNode(report.Checkpoints, SpotJaxJson.Options),
                            ["history"] = JsonSerializer.SerializeToNode(report.History, SpotJaxJson.Options),
                        };
                        WriteJson(console, document);
                    }
                    else
                    {
                        ShowJob(console, report, target, now);
                    }

                    return ExitCodes.Succeeded;
                }

                var jobs = await target.Store.ListRecentAsync(Math.Max(1, parse.GetValue(limit)), ct);
                if (parse.GetValue(json))
                {
                    // Each job document as before, with its cost beside its fields.
                    WriteJson(console, new JsonArray([.. jobs.Select(j => WithCost(j, now))]));
                }
                else
                {
                    ShowQueue(console, jobs, target, now);
                }

                return ExitCodes.Succeeded;
            },
            ct));
        return command;
    }

    private static void WriteJson(IAnsiConsole console, JsonNode value) =>
        console.Profile.Out.Writer.WriteLine(value.ToJsonString(SpotJaxJson.Options));

    private static JsonObject Cost(Job job, DateTimeOffset now) => CostText.Json(JobCost.Of(job, now, TpuPrices.Default), job.Spec?.MaxCostUsd);

    private static JsonNode WithCost(Job job, DateTimeOffset now)
    {
        var node = JsonSerializer.SerializeToNode(job, SpotJaxJson.Options)!.AsObject();
        node["cost"] = Cost(job, now);
        return node;
    }

    private static void ShowQueue(IAnsiConsole console, IReadOnlyList<Job> jobs, Target target, DateTimeOffset now)
    {
        if (jobs.Count == 0)
        {
            console.MarkupLineInterpolated($"No jobs in {target.Description}.");
            return;
        }

        var table = new Table().Border(TableBorder.Simple);
        foreach (var column in new[] { "JOB", "NAME", "STATE", "ATTEMPT", "TPU", "ZONE", "PREEMPTIONS", "FAILURES", "STEP", "SUBMITTED", "COST" })
        {
            table.AddColumn(column);
        }

        foreach (var job in jobs)
        {
            table.AddRow(
                new Text(job.Id),
                new Text(job.Spec?.Name ?? ""),
                new Markup($"[{TimelineFormat.Colour(job.State)}]{job.State.ToWire()}[/]"),
                new Text(job.Attempt.ToString(CultureInfo.InvariantCulture)),
                new Text(job.Spec is { } shape ? TpuShape.Of(shape) : ""),
                new Text(job.Zone ?? job.Spec?.Tpu.Zones.FirstOrDefault() ?? ""),
                new Text(job.PreemptionsSpent.ToString(CultureInfo.InvariantCulture)),
                new Text(job.FailuresSpent.ToString(CultureInfo.InvariantCulture)),
                new Text(job.LastCheckpointStep?.ToString(CultureInfo.InvariantCulture) ?? "-"),
                new Text(Time(job.SubmittedAt)),
                new Text(CostText.Short(JobCost.Of(job, now, TpuPrices.Default))));
        }

        console.Write(table);
        var deployments = jobs.Select(j => j.Deployment).OfType<string>().Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (deployments.Count > 0)
        {
            // From the job documents: each names the deployment that created it, so a store two deployments share shows both.
            console.MarkupLineInterpolated($"[grey]{(deployments.Count == 1 ? "deployment" : "deployments")}: {string.Join(", ", deployments)}[/]");
        }

        if (target.StatusUrl is { } page)
        {
            console.MarkupLineInterpolated($"[grey]status page: {page.AbsoluteUri}[/]");
        }
    }

    private static void ShowJob(IAnsiConsole console, JobReport report, Target target, DateTimeOffset now)
    {
        var job = report.Job;
        var spec = job.Spec;
        var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
        void Row(string name, string value) => grid.AddRow(new Text(name, new Style(Color.Grey)), new Text(value));
        grid.AddRow(new Text("state", new Style(Color.Grey)), new Markup($"[{TimelineFormat.Colour(job.State)}]{job.State.ToWire()}[/]"));
        Row("name", spec?.Name ?? "");
        Row("deployment", job.Deployment ?? DeploymentName.NotRecorded);
        Row("TPU", spec is null ? "" : $"{TpuShape.Of(spec)} in {string.Join(", ", spec.Tpu.Zones)}");
        Row("script", spec is null ? "" : string.Join(' ', new[] { spec.Script }.Concat(spec.Args)));
        if (spec is { SecretEnv.Count: > 0 })
        {
            // References only: the values never reach the control plane.
            Row("secrets", string.Join(", ", spec.SecretEnv.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => $"{e.Key} from {e.Value}")));
        }

        Row("attempt", job.Attempt + (job.Workers > 0 ? $" ({job.Workers} worker(s))" : ""));
        Row("preemptions", spec is null ? $"{job.PreemptionsSpent}" : $"{job.PreemptionsSpent} of {spec.MaxPreemptions}");
        Row("failures", spec is null ? $"{job.FailuresSpent}" : $"{job.FailuresSpent} of {spec.MaxRetries}");
        if (spec is not null)
        {
            Row("preparation", job.State == JobState.Launching && job.AgentsStartedAt is { } agentsStarted
                ? $"{job.PreparedWorkers.Count} of {job.Workers} worker(s) prepared since {Time(agentsStarted)}, at most {spec.PrepareTimeoutMinutes} min"
                : $"at most {spec.PrepareTimeoutMinutes} min");
        }

        Row("checkpoint step", job.LastCheckpointStep is { } step
            ? $"{step} at {Time(job.LastCheckpointAt!.Value)} ({report.Checkpoints.Count} checkpoint(s) in the bucket)"
            : "none yet");
        Row("cost", CostText.Line(JobCost.Of(job, now, TpuPrices.Default), spec?.MaxCostUsd));
        Row("submitted", Time(job.SubmittedAt));
        if (job.FinishedAt is { } finished)
        {
            Row("finished", Time(finished));
        }

        if (job.CancelReason is { } reason && job.State is JobState.Cancelling or JobState.Cancelled)
        {
            Row("cancelled by", reason);
        }

        if (job.LastError is { } error && job.State != JobState.Succeeded)
        {
            Row("last error", error);
        }

        if (target.StatusUrl is { } page)
        {
            Row("status page", new Uri(page, $"jobs/{job.Id}").AbsoluteUri);
        }

        console.MarkupLineInterpolated($"[bold]job {job.Id}[/]");
        console.Write(grid);
        if (report.Attempts.Count == 0)
        {
            return;
        }

        var attempts = new Table().Border(TableBorder.Simple).AddColumns("ATTEMPT", "ZONE", "PROVISIONING", "RUNNING", "ENDED", "HOW");
        foreach (var a in report.Attempts)
        {
            attempts.AddRow(
                new Text(a.Attempt.ToString(CultureInfo.InvariantCulture)),
                new Text(a.Zone ?? ""),
                new Text(Time(a.ProvisioningAt)),
                new Text(a.RunningAt is { } r ? Time(r) : "-"),
                new Text(a.EndedAt is { } e ? Time(e) : "live"),
                a.Preempted ? new Markup($"[yellow]{Markup.Escape(a.Cause ?? "")}[/]") : new Text(a.Cause ?? ""));
        }

        console.Write(attempts);
    }

    private static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
