using System.Globalization;
using System.Net;
using System.Text;
using SpotJax.Core.Jobs;
using SpotJax.Core.Status;

namespace SpotJax.Functions.Status;

/// <summary>
/// The status page's two charts as inline SVG over one time axis, from submission to the end (or
/// now): the attempts as bars with their preemptions, and the checkpoint step as points.
/// </summary>
public static class StatusCharts
{
    private const double Width = 900;
    private const double Left = 80;
    private const double Right = 20;
    private const double PlotWidth = Width - Left - Right;
    private const double Row = 26;

    /// <summary>One bar per attempt: provisioning (grey), then running; a red mark where the TPU was taken back.</summary>
    public static string Timeline(IReadOnlyList<AttemptSpan> attempts, DateTimeOffset start, DateTimeOffset end)
    {
        if (attempts.Count == 0)
        {
            return "<p class=\"note\">No attempt yet.</p>\n";
        }

        var axis = new Axis(start, end);
        var height = 14 + (attempts.Count * Row) + 24;
        var svg = new StringBuilder();
        Open(svg, height, "timeline", "Attempts over time");
        for (var i = 0; i < attempts.Count; i++)
        {
            var a = attempts[i];
            var y = 10 + (i * Row);
            var until = a.EndedAt ?? end;
            svg.Append(Invariant($"<g class=\"attempt\" data-attempt=\"{a.Attempt}\"><text x=\"{Left - 8}\" y=\"{y + 15}\" text-anchor=\"end\">attempt {a.Attempt}</text>"));
            var runningFrom = a.RunningAt ?? until;
            Bar(svg, "provisioning", axis.X(a.ProvisioningAt), axis.X(runningFrom), y, "#afb8c1", $"attempt {a.Attempt}: provisioning and launching");
            if (a.RunningAt is not null)
            {
                var colour = a.End switch
                {
                    JobState.Succeeded => "#2da44e",
                    JobState.Failed => "#cf222e",
                    JobState.Recovering => "#54aeff",
                    JobState.Cancelling or JobState.Cancelled => "#d4a72c",
                    _ => "#0969da",
                };
                Bar(svg, "running", axis.X(runningFrom), axis.X(until), y, colour, $"attempt {a.Attempt}: running{(a.Cause is null ? "" : " until " + a.Cause)}");
            }

            if (a.Preempted && a.EndedAt is { } at)
            {
                var x = axis.X(at);
                svg.Append(Invariant($"<g class=\"preemption\"><line x1=\"{x:0.#}\" x2=\"{x:0.#}\" y1=\"{y - 2}\" y2=\"{y + 22}\" stroke=\"#cf222e\" stroke-width=\"3\"/>"))
                    .Append(Invariant($"<text x=\"{x + 5:0.#}\" y=\"{y + 15}\" fill=\"#cf222e\">preempted</text><title>{E(a.Cause ?? "preempted")}</title></g>"));
            }

            svg.Append("</g>\n");
        }

        TimeAxis(svg, axis, 10 + (attempts.Count * Row) + 4);
        return svg.Append("</svg>\n").ToString();
    }

    /// <summary>The checkpoint steps over time, with the preemptions as dashed lines.</summary>
    public static string Checkpoints(IReadOnlyList<CheckpointPoint> points, IReadOnlyList<AttemptSpan> attempts, DateTimeOffset start, DateTimeOffset end)
    {
        if (points.Count == 0)
        {
            return "<p class=\"note\">No checkpoint in the job's checkpoint folder yet.</p>\n";
        }

        const double top = 10;
        const double plotHeight = 200;
        var axis = new Axis(Min(start, points[0].At), Max(end, points[^1].At));
        var maxStep = Math.Max(1, points.Max(p => p.Step));
        double Y(long step) => top + plotHeight - (plotHeight * step / maxStep);

        var svg = new StringBuilder();
        Open(svg, top + plotHeight + 28, "checkpoints", "Checkpoint step over time");
        foreach (var step in new[] { 0, maxStep / 2, maxStep }.Distinct())
        {
            svg.Append(Invariant($"<line x1=\"{Left}\" x2=\"{Width - Right}\" y1=\"{Y(step):0.#}\" y2=\"{Y(step):0.#}\" stroke=\"#eaeef2\"/>"))
                .Append(Invariant($"<text x=\"{Left - 8}\" y=\"{Y(step) + 4:0.#}\" text-anchor=\"end\">{step}</text>\n"));
        }

        foreach (var a in attempts.Where(a => a.Preempted && a.EndedAt is not null))
        {
            var x = axis.X(a.EndedAt!.Value);
            svg.Append(Invariant($"<line class=\"preemption\" x1=\"{x:0.#}\" x2=\"{x:0.#}\" y1=\"{top}\" y2=\"{top + plotHeight}\" stroke=\"#cf222e\" stroke-dasharray=\"4 3\"><title>attempt {a.Attempt} preempted</title></line>\n"));
        }

        svg.Append("<polyline fill=\"none\" stroke=\"#0969da\" stroke-width=\"1.5\" points=\"")
            .AppendJoin(' ', points.Select(p => Invariant($"{axis.X(p.At):0.#},{Y(p.Step):0.#}")))
            .Append("\"/>\n");
        foreach (var p in points)
        {
            svg.Append(Invariant($"<circle class=\"point\" cx=\"{axis.X(p.At):0.#}\" cy=\"{Y(p.Step):0.#}\" r=\"3.5\" fill=\"#0969da\" data-step=\"{p.Step}\">"))
                .Append(Invariant($"<title>step {p.Step} at {p.At.UtcDateTime:HH:mm:ss}Z</title></circle>\n"));
        }

        TimeAxis(svg, axis, top + plotHeight + 4);
        return svg.Append("</svg>\n").ToString();
    }

    private static void Open(StringBuilder svg, double height, string cssClass, string label) =>
        svg.Append(Invariant($"<svg class=\"{cssClass}\" role=\"img\" aria-label=\"{label}\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {Width} {height:0.#}\" width=\"{Width}\" height=\"{height:0.#}\">\n"));

    private static void Bar(StringBuilder svg, string cssClass, double x1, double x2, double y, string colour, string title) =>
        svg.Append(Invariant($"<rect class=\"{cssClass}\" x=\"{x1:0.#}\" y=\"{y}\" width=\"{Math.Max(1, x2 - x1):0.#}\" height=\"20\" rx=\"3\" fill=\"{colour}\"><title>{E(title)}</title></rect>"));

    /// <summary>The axis line with the start and end times and the elapsed time between them.</summary>
    private static void TimeAxis(StringBuilder svg, Axis axis, double y)
    {
        svg.Append(Invariant($"<line x1=\"{Left}\" x2=\"{Width - Right}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#8c959f\"/>"))
            .Append(Invariant($"<text x=\"{Left}\" y=\"{y + 14}\">{axis.Start.UtcDateTime:HH:mm:ss}Z</text>"))
            .Append(Invariant($"<text x=\"{Left + (PlotWidth / 2)}\" y=\"{y + 14}\" text-anchor=\"middle\" fill=\"#59636e\">{Elapsed(axis.End - axis.Start)}</text>"))
            .Append(Invariant($"<text x=\"{Width - Right}\" y=\"{y + 14}\" text-anchor=\"end\">{axis.End.UtcDateTime:HH:mm:ss}Z</text>\n"));
    }

    private static string Elapsed(TimeSpan span) => span.TotalHours >= 1
        ? Invariant($"{(int)span.TotalHours} h {span.Minutes} min")
        : span.TotalMinutes >= 1 ? Invariant($"{(int)span.TotalMinutes} min {span.Seconds} s") : Invariant($"{span.TotalSeconds:0.#} s");

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static string E(string text) => WebUtility.HtmlEncode(text);

    private readonly record struct Axis(DateTimeOffset Start, DateTimeOffset End)
    {
        public double X(DateTimeOffset at)
        {
            var span = Math.Max(1, (End - Start).TotalMilliseconds);
            var offset = Math.Clamp((at - Start).TotalMilliseconds, 0, span);
            return Left + (PlotWidth * offset / span);
        }
    }
}
