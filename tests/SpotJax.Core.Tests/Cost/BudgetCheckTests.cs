using SpotJax.Core.Cost;
using SpotJax.Core.Jobs;

namespace SpotJax.Core.Tests.Cost;

public sealed class BudgetCheckTests
{
    private static readonly TpuPrices Prices = TpuPrices.Parse("""
        {
          "source": "https://example.com/p", "sourceNote": "test", "retrieved": "2026-12-01", "asOf": "2026-12-01",
          "prices": [ { "generation": "v4", "region": "us-central2", "spotUsdPerChipHour": 0.9215, "onDemandUsdPerChipHour": 3.22 } ]
        }
        """);

    private static JobSpec Spec(decimal? maxCostUsd, string zone = "us-central2-b") => new()
    {
        Name = "train",
        Tpu = new TpuSpec { Type = "v4-8", Zones = [zone] },
        Code = "gs://bucket/code.tar.gz",
        Script = "train.py",
        ProvisionTimeoutMinutes = 120,
        MaxCostUsd = maxCostUsd,
    };

    [Fact]
    public void Warning_NoBudget_IsNull() => Assert.Null(BudgetCheck.Warning(Spec(null), Prices));

    [Fact]
    public void Warning_BudgetCoveringTheProvisioningTimeout_IsNull()
    {
        // 120 min x 4 chips x $0.9215 = $7.372.
        Assert.Null(BudgetCheck.Warning(Spec(7.372m), Prices));
    }

    [Fact]
    public void Warning_BudgetBelowTheProvisioningTimeout_SaysHowLongItLasts()
    {
        // $1 at 4 x $0.9215 = $3.686/h lasts 1/3.686 h = 16.3 min.
        var warning = BudgetCheck.Warning(Spec(1m), Prices);

        Assert.Equal(
            "maxCostUsd $1.00 pays for 16 min of a Spot v4-8 in us-central2 (4 chips at $0.9215/chip-hour, $3.69/h), less than the first attempt's " +
            "120-min provisioning timeout ($7.37); the sweep cancels the job once its cost reaches $1.00",
            warning);
    }

    [Fact]
    public void Warning_NoPriceForTheRegion_SaysTheBudgetCannotBeEnforced() =>
        Assert.Contains("cannot be enforced", BudgetCheck.Warning(Spec(5m, "europe-west9-a"), Prices), StringComparison.Ordinal);
}
