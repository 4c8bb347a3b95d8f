using SpotJax.Core.Lifecycle;

namespace SpotJax.Core.Tests.Lifecycle;

public sealed class LifecycleOptionsTests
{
    /// <summary>Every wait, so that a wait added later cannot be left out of the scaling unnoticed.</summary>
    public static TheoryData<string> Waits() =>
        new(typeof(LifecycleOptions).GetProperties().Where(p => p.PropertyType == typeof(TimeSpan)).Select(p => p.Name));

    [Theory]
    [MemberData(nameof(Waits))]
    public void ScaledBy_ATenth_ScalesEveryWait(string wait)
    {
        var property = typeof(LifecycleOptions).GetProperty(wait)!;
        var defaults = new LifecycleOptions();

        var scaled = defaults.ScaledBy(0.1);

        Assert.Equal((TimeSpan)property.GetValue(defaults)! * 0.1, (TimeSpan)property.GetValue(scaled)!);
    }

    [Fact]
    public void DividedBy_Thirty_DividesTheRateLimitWaitToo()
    {
        var divided = new LifecycleOptions().DividedBy(30);

        Assert.Equal(
            (TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(12), TimeSpan.FromMinutes(1)),
            (divided.BackoffBase, divided.RateLimitBackoffMax, divided.LaunchLease, divided.ZoneCapacityWait));
    }

    [Fact]
    public void ScaledBy_KeepsCountsAndTheJitter()
    {
        var options = new LifecycleOptions { ZoneFailoverAfterPreemptions = 5, CapacityRefusalsPerZone = 7, ProvisionJitter = 0.25 };

        var scaled = options.ScaledBy(0.5);

        Assert.Equal((5, 7, 0.25), (scaled.ZoneFailoverAfterPreemptions, scaled.CapacityRefusalsPerZone, scaled.ProvisionJitter));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void ScaledBy_FactorNotAboveZero_IsRefused(double factor) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new LifecycleOptions().ScaledBy(factor));
}
