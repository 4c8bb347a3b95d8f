using SpotJax.Core.Jobs;

namespace SpotJax.Core.Cost;

/// <summary>What one attempt cost: its provisioned hours times its chips times the price per chip-hour.</summary>
/// <param name="EndedAt">When its billed time ended: the attempt's end, or the time of the reading while it runs.</param>
/// <param name="Open">Whether the attempt still runs (its cost still grows).</param>
/// <param name="UsdPerChipHour">The price used; null when the table has none for the generation and region.</param>
/// <param name="Usd">The cost; null when the price or the chip count is unknown.</param>
public sealed record AttemptCost(
    int Attempt, string Zone, string TpuType, int Chips, bool Spot, DateTimeOffset StartedAt, DateTimeOffset EndedAt, bool Open, decimal Hours, decimal? UsdPerChipHour, decimal? Usd);

/// <summary>A job's cost over all its attempts, with the price table it was counted with.</summary>
/// <param name="Usd">The sum over the attempts; null ("unknown") when any attempt's cost is unknown.</param>
public sealed record JobCostReport(decimal? Usd, IReadOnlyList<AttemptCost> Attempts, string PriceSource, DateOnly PricesAsOf);

/// <summary>
/// The cost of a job, as a pure function of its <see cref="Job.Billing"/>, the time and the price table. An attempt
/// is billed from when its TPU was first seen ACTIVE until the attempt ended, or until <c>now</c> while it runs:
/// "Charges for Cloud TPU accrue while your TPU node is in a READY state" (https://cloud.google.com/tpu/pricing),
/// and a queued resource waiting for capacity has no node yet.
/// </summary>
/// <remarks>
/// Unconfirmed, and approximated here: the seconds between ACTIVE and the control plane seeing it (a sweep pass or
/// the launch), and the seconds a recovered or finished attempt's delete takes after the attempt ended, are not
/// counted (a cancel's entry ends when its delete finished); Google's rule that a preemptible TPU preempted within its
/// first minute is not charged (https://cloud.google.com/tpu/docs/preemptible) is not applied to Spot; per-second
/// billing is assumed. The figures are list prices (see the price table's source), before discounts.
/// </remarks>
public static class JobCost
{
    private const decimal SecondsPerHour = 3600m;

    public static JobCostReport Of(Job job, DateTimeOffset now, TpuPrices prices)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(prices);

        // An entry left open by a job that has ended (it should not be) stops at the job's end, never grows forever.
        var openEnd = job.State.IsTerminal() && job.FinishedAt is { } finished ? finished : now;
        var attempts = job.Billing.OrderBy(b => b.Attempt).Select(b => Price(b, openEnd, prices)).ToList();
        decimal? total = attempts.All(a => a.Usd is not null) ? attempts.Sum(a => a.Usd!.Value) : null;
        return new JobCostReport(total, attempts, prices.Source, prices.AsOf);
    }

    private static AttemptCost Price(BillingEntry entry, DateTimeOffset openEnd, TpuPrices prices)
    {
        var end = entry.EndedAt ?? openEnd;
        var seconds = end > entry.StartedAt ? (decimal)(end - entry.StartedAt).Ticks / TimeSpan.TicksPerSecond : 0m;
        var perChipHour = prices.Find(entry.TpuType, entry.Zone)?.PerChipHour(entry.Spot);

        // Multiplied before the one division, so that whole seconds at a price of five decimals stay exact as long as they can.
        decimal? usd = perChipHour is { } price && entry.Chips > 0 ? seconds * entry.Chips * price / SecondsPerHour : null;
        return new AttemptCost(
            entry.Attempt, entry.Zone, entry.TpuType, entry.Chips, entry.Spot, entry.StartedAt, end, entry.EndedAt is null, seconds / SecondsPerHour, perChipHour, usd);
    }
}
