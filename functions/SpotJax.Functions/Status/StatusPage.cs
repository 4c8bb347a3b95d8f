using System.Globalization;
using System.Net;
using System.Text;
using SpotJax.Core.Cost;
using SpotJax.Core.Jobs;
using SpotJax.Core.Ports;
using SpotJax.Core.Status;
using SpotJax.Core.Steps;

namespace SpotJax.Functions.Status;

/// <summary>
/// The status page, rendered on the server as one self-contained HTML document per request: the
/// jobs table, and for one job its attempts, preemptions and checkpoint steps as inline SVG. No
/// script, no stylesheet or font from elsewhere: it works behind Cloud Run IAM and offline alike.
/// </summary>
/// <param name="deployment">The name of the deployment serving the page, shown in its heading; null shows none.</param>
/// <param name="priceTable">The price table costs are counted with; the embedded one when null.</param>
public sealed class StatusPage(IJobStore store, IObjectStore objects, TimeProvider time, string? deployment = null, TpuPrices? priceTable = null)
{
    private readonly TpuPrices prices = priceTable ?? TpuPrices.Default;

    /// <summary>How many recent jobs the table shows.</summary>
    public const int JobsShown = 100;

    /// <summary>The jobs table, newest first.</summary>
    public async Task<string> IndexAsync(CancellationToken cancellationToken)
    {
        var jobs = await store.ListRecentAsync(JobsShown, cancellationToken);
        var html = new StringBuilder();
        Head(html, "SpotJax jobs", refreshSeconds: 10);
        html.Append("<h1>SpotJax jobs</h1>\n");
        if (deployment is not null)
        {
            html.Append("<p class=\"deployment\">deployment <code>").Append(E(deployment)).Append("</code></p>\n");
        }

        if (jobs.Count == 0)
        {
            html.Append("<p class=\"empty\">No jobs yet. Submit one with <code>spotjax submit train.py --tpu v4-8 --zone us-central2-b</code>.</p>\n");
        }
        else
        {
            html.Append("<table class=\"jobs\"><thead><tr><th>job</th><th>name</th><th>state</th><th>attempt</th><th>TPU</th><th>zone</th>")
                .Append("<th>preemptions</th><th>failures</th><th>checkpoint step</th><th>submitted</th><th>updated</th><th>cost</th></tr></thead><tbody>\n");
            var now = time.GetUtcNow();
            foreach (var job in jobs)
            {
                html.Append("<tr><td><a href=\"jobs/").Append(E(job.Id)).Append("\">").Append(E(job.Id)).Append("</a></td>")
                    .Append("<td>").Append(E(job.Spec?.Name ?? "")).Append("</td>")
                    .Append("<td>").Append(Badge(job.State)).Append("</td>")
                    .Append("<td>").Append(job.Attempt.ToString(CultureInfo.InvariantCulture)).Append("</td>")
                    .Append("<td>").Append(E(job.Spec is { } shape ? TpuShape.Of(shape) : "")).Append("</td>")
                    .Append("<td>").Append(E(job.Zone ?? job.Spec?.Tpu.Zones.FirstOrDefault() ?? "")).Append("</td>")
                    .Append("<td>").Append(Budget(job.PreemptionsSpent, job.Spec?.MaxPreemptions)).Append("</td>")
                    .Append("<td>").Append(Budget(job.FailuresSpent, job.Spec?.MaxRetries)).Append("</td>")
                    .Append("<td>").Append(job.LastCheckpointStep?.ToString(CultureInfo.InvariantCulture) ?? "").Append("</td>")
                    .Append("<td>").Append(When(job.SubmittedAt)).Append("</td>")
                    .Append("<td>").Append(When(job.UpdatedAt)).Append("</td>")
                    .Append("<td>").Append(E(CostText.Short(JobCost.Of(job, now, prices)))).Append("</td></tr>\n");
            }

            html.Append("</tbody></table>\n");
        }

        return Foot(html);
    }

    /// <summary>One job's page; null when there is no such job.</summary>
    public async Task<string?> JobAsync(string jobId, CancellationToken cancellationToken)
    {
        if (await JobReport.LoadAsync(store, objects, jobId, cancellationToken) is not { } report)
        {
            return null;
        }

        var job = report.Job;
        var now = time.GetUtcNow();
        var html = new StringBuilder();
        Head(html, $"{job.Id} · SpotJax", refreshSeconds: job.State.IsTerminal() ? null : 5);
        html.Append("<p><a href=\"../\">&larr; all jobs</a></p>\n<h1>").Append(E(job.Id)).Append(' ').Append(Badge(job.State)).Append("</h1>\n");
        html.Append("<dl class=\"summary\">");
        Term(html, "name", E(job.Spec?.Name ?? ""));
        Term(html, "deployment", E(job.Deployment ?? DeploymentName.NotRecorded));
        Term(html, "TPU", E(job.Spec is { } spec ? $"{TpuShape.Of(spec)} in {string.Join(", ", spec.Tpu.Zones)}" : ""));
        Term(html, "script", E(job.Spec is { } s ? string.Join(' ', new[] { s.Script }.Concat(s.Args)) : ""));
        if (job.Spec is { SecretEnv.Count: > 0 } withSecrets)
        {
            // References only: the values never reach the control plane.
            Term(html, "secrets", E(string.Join(", ", withSecrets.SecretEnv.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => $"{e.Key} from {e.Value}"))));
        }

        Term(html, "attempt", job.Attempt.ToString(CultureInfo.InvariantCulture) + (job.Workers > 0 ? $" · {job.Workers} worker(s)" : ""));
        Term(html, "preemptions", Budget(job.PreemptionsSpent, job.Spec?.MaxPreemptions));
        Term(html, "failures", Budget(job.FailuresSpent, job.Spec?.MaxRetries));
        Term(html, "checkpoint step", job.LastCheckpointStep is { } step
            ? string.Create(CultureInfo.InvariantCulture, $"{step} at {When(job.LastCheckpointAt!.Value)}")
            : "none yet");
        Term(html, "submitted", When(job.SubmittedAt));
        if (job.FinishedAt is { } finished)
        {
            Term(html, "finished", When(finished));
        }

        if (job.LastError is { } error && job.State != JobState.Succeeded)
        {
            Term(html, "last error", E(error));
        }

        if (job.CancelReason is { } reason && job.State is JobState.Cancelling or JobState.Cancelled)
        {
            Term(html, "cancelled by", E(reason));
        }

        html.Append("</dl>\n");

        var end = job.FinishedAt ?? now;
        var cost = JobCost.Of(job, now, prices);
        html.Append("<h2>Attempts</h2>\n").Append(StatusCharts.Timeline(report.Attempts, job.SubmittedAt, end));
        html.Append("<p class=\"cost\">cost ").Append(E(CostText.Line(cost, job.Spec?.MaxCostUsd)))
            .Append(" · <span class=\"note\">prices from ").Append(E(PriceSourceName(cost.PriceSource))).Append("</span></p>\n");
        html.Append("<h2>Checkpoint step</h2>\n").Append(StatusCharts.Checkpoints(report.Checkpoints, report.Attempts, job.SubmittedAt, end));
        AttemptsTable(html, report.Attempts);
        HistoryTable(html, report.History);
        return Foot(html);
    }

    /// <summary>The host of the price table's source, which says whose figures they are (not a link: the page points nowhere else).</summary>
    private static string PriceSourceName(string source) => Uri.TryCreate(source, UriKind.Absolute, out var uri) ? uri.Host : source;

    private static void AttemptsTable(StringBuilder html, IReadOnlyList<AttemptSpan> attempts)
    {
        if (attempts.Count == 0)
        {
            return;
        }

        html.Append("<table class=\"attempts\"><thead><tr><th>attempt</th><th>zone</th><th>provisioning</th><th>running</th><th>ended</th><th>how</th></tr></thead><tbody>\n");
        foreach (var a in attempts)
        {
            html.Append("<tr").Append(a.Preempted ? " class=\"preempted\"" : "").Append("><td>").Append(a.Attempt.ToString(CultureInfo.InvariantCulture)).Append("</td>")
                .Append("<td>").Append(E(a.Zone ?? "")).Append("</td>")
                .Append("<td>").Append(When(a.ProvisioningAt)).Append("</td>")
                .Append("<td>").Append(a.RunningAt is { } r ? When(r) : "").Append("</td>")
                .Append("<td>").Append(a.EndedAt is { } e ? When(e) : "live").Append("</td>")
                .Append("<td>").Append(E(a.Cause ?? "")).Append("</td></tr>\n");
        }

        html.Append("</tbody></table>\n");
    }

    private static void HistoryTable(StringBuilder html, IReadOnlyList<HistoryEntry> history)
    {
        html.Append("<h2>History</h2>\n<table class=\"history\"><thead><tr><th>time</th><th>state</th><th>attempt</th><th>cause</th></tr></thead><tbody>\n");
        foreach (var entry in history)
        {
            html.Append("<tr><td>").Append(When(entry.At)).Append("</td><td>").Append(Badge(entry.To)).Append("</td><td>")
                .Append(entry.Attempt > 0 ? entry.Attempt.ToString(CultureInfo.InvariantCulture) : "").Append("</td><td>")
                .Append(E(entry.Cause)).Append("</td></tr>\n");
        }

        html.Append("</tbody></table>\n");
    }

    private static void Head(StringBuilder html, string title, int? refreshSeconds)
    {
        html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>").Append(E(title)).Append("</title>\n")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        if (refreshSeconds is { } seconds)
        {
            // Live without a script: the browser reloads the page while the job can still change.
            html.Append("<meta http-equiv=\"refresh\" content=\"").Append(seconds.ToString(CultureInfo.InvariantCulture)).Append("\">\n");
        }

        html.Append("<style>").Append(Style).Append("</style></head><body>\n");
    }

    private static string Foot(StringBuilder html) => html.Append("</body></html>\n").ToString();

    private static void Term(StringBuilder html, string term, string definition) =>
        html.Append("<dt>").Append(term).Append("</dt><dd>").Append(definition).Append("</dd>");

    private static string Badge(JobState state) =>
        $"<span class=\"state {state.ToWire().ToLowerInvariant()}\">{state.ToWire()}</span>";

    private static string Budget(int spent, int? max) =>
        max is { } m ? string.Create(CultureInfo.InvariantCulture, $"{spent} / {m}") : spent.ToString(CultureInfo.InvariantCulture);

    private static string When(DateTimeOffset at) =>
        $"<time datetime=\"{at.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)}\">{at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)}Z</time>";

    private static string E(string text) => WebUtility.HtmlEncode(text);

    private const string Style = """
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1f2328;background:#fff}
        h1{font-size:20px;margin:0 0 12px}h2{font-size:16px;margin:24px 0 8px}
        a{color:#0969da;text-decoration:none}a:hover{text-decoration:underline}
        table{border-collapse:collapse;margin:8px 0}th,td{padding:4px 10px;border-bottom:1px solid #d0d7de;text-align:left;white-space:nowrap}
        td:last-child{white-space:normal}th{font-weight:600;background:#f6f8fa}tr.preempted td{background:#fff8f0}
        code{background:#f6f8fa;padding:1px 4px;border-radius:4px}
        dl.summary{display:grid;grid-template-columns:max-content auto;gap:2px 16px}dt{color:#59636e}dd{margin:0;white-space:pre-wrap}
        .state{display:inline-block;padding:0 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff;background:#0969da;vertical-align:middle}
        .state.succeeded{background:#1a7f37}.state.failed,.state.rejected{background:#cf222e}
        .state.recovering,.state.cancelling,.state.cancelled{background:#bf8700}.state.queued{background:#59636e}
        svg{display:block;max-width:100%;height:auto;font:11px system-ui,sans-serif}
        .note{color:#59636e}
        """;
}
