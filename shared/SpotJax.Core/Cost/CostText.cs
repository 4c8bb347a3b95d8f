using System.Globalization;
using System.Text.Json.Nodes;
using SpotJax.Core.Jobs;

namespace SpotJax.Core.Cost;

/// <summary>How a job's cost reads in <c>spotjax status</c>, its <c>--json</c> and the status page, one wording for all.</summary>
public static class CostText
{
    /// <summary>Digits kept in the JSON figures: a millionth of a dollar, well under a cent however many attempts add up.</summary>
    private const int JsonDecimals = 6;

    /// <summary>The cost alone: <c>$40.55</c>, <c>unknown</c>, or <c>-</c> before any TPU was provisioned.</summary>
    public static string Short(JobCostReport cost)
    {
        ArgumentNullException.ThrowIfNull(cost);
        return cost.Attempts.Count == 0 ? "-" : cost.Usd is { } usd ? Usd(usd) : "unknown";
    }

    /// <summary>
    /// One line: <c>$40.55 over 2 attempts (Spot, list prices as of 2026-12-06) of maxCostUsd $50.00</c>, saying
    /// which generation and region have no price when the cost is unknown.
    /// </summary>
    public static string Line(JobCostReport cost, decimal? maxCostUsd)
    {
        ArgumentNullException.ThrowIfNull(cost);
        var budget = maxCostUsd is { } max ? $" of maxCostUsd {Usd(max)}" : "";
        if (cost.Attempts.Count == 0)
        {
            return $"$0.00 (no TPU provisioned yet){budget}";
        }

        var attempts = cost.Attempts.Count == 1 ? "1 attempt" : string.Create(CultureInfo.InvariantCulture, $"{cost.Attempts.Count} attempts");
        var tiers = string.Join(" and ", cost.Attempts.Select(a => a.Spot ? "Spot" : "on-demand").Distinct(StringComparer.Ordinal));
        var dated = $"{tiers}, list prices as of {cost.PricesAsOf.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}";
        if (cost.Usd is { } usd)
        {
            var running = cost.Attempts.Any(a => a.Open) ? ", still running" : "";
            return $"{Usd(usd)} over {attempts} ({dated}{running}){budget}";
        }

        var missing = cost.Attempts.Where(a => a.Usd is null)
            .Select(a => a.Chips > 0 ? $"{TpuChips.Generation(a.TpuType)} in {TpuPrices.Region(a.Zone)}" : $"the chips of {a.TpuType}")
            .Distinct(StringComparer.Ordinal);
        return $"unknown over {attempts}: no list price for {string.Join(", ", missing)} ({dated}){budget}";
    }

    /// <summary>The <c>cost</c> object of <c>--json</c>: the total (null when unknown), each attempt, the price table's source and date.</summary>
    public static JsonObject Json(JobCostReport cost, decimal? maxCostUsd)
    {
        ArgumentNullException.ThrowIfNull(cost);
        var attempts = new JsonArray();
        foreach (var a in cost.Attempts)
        {
            attempts.Add(new JsonObject
            {
                ["attempt"] = a.Attempt,
                ["zone"] = a.Zone,
                ["tpuType"] = a.TpuType,
                ["chips"] = a.Chips,
                ["spot"] = a.Spot,
                ["startedAt"] = a.StartedAt.ToUniversalTime().ToString("o", CultureInfo.InvariantCulture),
                ["endedAt"] = a.EndedAt.ToUniversalTime().ToString("o", CultureInfo.InvariantCulture),
                ["running"] = a.Open,
                ["hours"] = Math.Round(a.Hours, JsonDecimals),
                ["usdPerChipHour"] = a.UsdPerChipHour,
                ["usd"] = a.Usd is { } usd ? Math.Round(usd, JsonDecimals) : null,
            });
        }

        return new JsonObject
        {
            ["usd"] = cost.Usd is { } total ? Math.Round(total, JsonDecimals) : null,
            ["currency"] = "USD",
            ["maxCostUsd"] = maxCostUsd,
            ["attempts"] = attempts,
            ["priceSource"] = cost.PriceSource,
            ["pricesAsOf"] = cost.PricesAsOf.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        };
    }

    private static string Usd(decimal usd) => string.Create(CultureInfo.InvariantCulture, $"${usd:0.00}");
}
