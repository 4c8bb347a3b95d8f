using System.Globalization;
using SpotJax.Core.Jobs;

namespace SpotJax.Core.Cost;

/// <summary>What <c>submit</c> says about a job's <see cref="JobSpec.MaxCostUsd"/> before sending it.</summary>
public static class BudgetCheck
{
    /// <summary>
    /// A warning when the budget cannot be enforced (no price for the type in the first zone's region) or does not
    /// cover the first attempt's <see cref="JobSpec.ProvisionTimeoutMinutes"/> of the slice at its Spot price (the
    /// sweep may then cancel the job within its first attempt); null when there is no budget or it covers that.
    /// </summary>
    public static string? Warning(JobSpec spec, TpuPrices prices)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(prices);
        if (spec.MaxCostUsd is not { } budget)
        {
            return null;
        }

        var zone = spec.Tpu.Zones[0];
        var region = TpuPrices.Region(zone);
        if (prices.Find(spec.Tpu.Type, zone) is not { } price || TpuChips.Billed(spec) is not { } chips)
        {
            return $"maxCostUsd {Usd(budget)} cannot be enforced: the price table ({prices.AsOf:yyyy-MM-dd}) has no price for {TpuChips.Generation(spec.Tpu.Type)} in {region}, so the job's cost stays unknown";
        }

        var perHour = chips * price.SpotUsdPerChipHour;
        var timeout = spec.ProvisionTimeoutMinutes * perHour / 60m;
        if (budget >= timeout)
        {
            return null;
        }

        var minutes = budget / perHour * 60m;
        return string.Create(
            CultureInfo.InvariantCulture,
            $"maxCostUsd {Usd(budget)} pays for {minutes:0} min of a Spot {spec.Tpu.Type} in {region} ({chips} chips at ${price.SpotUsdPerChipHour}/chip-hour, {Usd(perHour)}/h), less than the first attempt's {spec.ProvisionTimeoutMinutes}-min provisioning timeout ({Usd(timeout)}); the sweep cancels the job once its cost reaches {Usd(budget)}");
    }

    private static string Usd(decimal usd) => string.Create(CultureInfo.InvariantCulture, $"${usd:0.00}");
}
