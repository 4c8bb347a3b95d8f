using SpotJax.Core.Cost;

namespace SpotJax.Core.Tests.Cost;

/// <summary>The price table shipped in SpotJax.Core, and the rules its reader holds any table to.</summary>
public sealed class TpuPricesTests
{
    private const string Header = """
        "source": "https://example.com/p", "sourceNote": "test", "retrieved": "2026-12-01", "asOf": "2026-12-01",
        """;

    [Fact]
    public void Default_HasASourceAndDatesAndSaysWhoseFiguresTheyAre()
    {
        var prices = TpuPrices.Default;

        Assert.StartsWith("https://", prices.Source, StringComparison.Ordinal);
        Assert.Contains("NOT Google's price page", prices.SourceNote, StringComparison.Ordinal);
        Assert.True(prices.Retrieved >= prices.AsOf);
        Assert.True(prices.AsOf > new DateOnly(2024, 1, 1));
    }

    [Fact]
    public void Default_EveryEntryPositiveAndSpotBelowOnDemand()
    {
        Assert.All(TpuPrices.Default.Prices, p =>
        {
            Assert.True(p.SpotUsdPerChipHour > 0, $"{p.Generation} {p.Region}");
            Assert.True(p.SpotUsdPerChipHour < p.OnDemandUsdPerChipHour, $"{p.Generation} {p.Region}");
        });
    }

    [Theory]
    [InlineData("v2-8", "us-central1-b")]
    [InlineData("v3-8", "europe-west4-a")]
    [InlineData("v4-32", "us-central2-b")]
    [InlineData("v5litepod-16", "us-west4-a")]
    [InlineData("v5p-8", "us-east5-a")]
    [InlineData("v6e-8", "us-east5-b")]
    public void Default_CoversEveryGenerationInAZoneItIsOfferedIn(string type, string zone) =>
        Assert.NotNull(TpuPrices.Default.Find(type, zone));

    [Fact]
    public void Find_UnknownRegionOrGeneration_IsNull()
    {
        Assert.Null(TpuPrices.Default.Find("v4-8", "antarctica-south1-a"));
        Assert.Null(TpuPrices.Default.Find("v9-8", "us-central2-b"));
    }

    [Theory]
    [InlineData("""{ "generation": "v4", "region": "us-central2", "spotUsdPerChipHour": 0, "onDemandUsdPerChipHour": 3 }""", "positive")]
    [InlineData("""{ "generation": "v4", "region": "us-central2", "spotUsdPerChipHour": 3, "onDemandUsdPerChipHour": 3 }""", "below the on-demand")]
    [InlineData("""{ "generation": "v9", "region": "us-central2", "spotUsdPerChipHour": 1, "onDemandUsdPerChipHour": 3 }""", "unknown generation")]
    [InlineData("""{ "generation": "v4", "region": "US Central", "spotUsdPerChipHour": 1, "onDemandUsdPerChipHour": 3 }""", "malformed region")]
    public void Parse_BadEntry_IsRefusedSayingWhy(string entry, string why)
    {
        var error = Assert.Throws<InvalidDataException>(() => TpuPrices.Parse($$"""{ {{Header}} "prices": [ {{entry}} ] }"""));

        Assert.Contains(why, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{ "sourceNote": "x", "retrieved": "2026-12-01", "asOf": "2026-12-01", "prices": [] }""", "source")]
    [InlineData("""{ "source": "https://e.com", "sourceNote": "x", "asOf": "2026-12-01", "prices": [] }""", "retrieved")]
    [InlineData("""{ "source": "https://e.com", "sourceNote": "x", "retrieved": "2026-12-01", "asOf": "yesterday", "prices": [] }""", "asOf")]
    [InlineData("""{ "source": "https://e.com", "retrieved": "2026-12-01", "asOf": "2026-12-01", "prices": [] }""", "sourceNote")]
    public void Parse_MissingSourceOrDate_IsRefused(string json, string field)
    {
        var error = Assert.Throws<InvalidDataException>(() => TpuPrices.Parse(json));

        Assert.Contains(field, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_DuplicateEntry_IsRefused()
    {
        const string entry = """{ "generation": "v4", "region": "us-central2", "spotUsdPerChipHour": 1, "onDemandUsdPerChipHour": 3 }""";

        Assert.Throws<InvalidDataException>(() => TpuPrices.Parse($$"""{ {{Header}} "prices": [ {{entry}}, {{entry}} ] }"""));
    }

    [Fact]
    public void Region_OfAZone_DropsTheZoneLetter() => Assert.Equal("us-central2", TpuPrices.Region("us-central2-b"));
}
