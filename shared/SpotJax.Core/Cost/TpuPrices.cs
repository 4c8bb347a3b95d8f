using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using SpotJax.Core.Jobs;

namespace SpotJax.Core.Cost;

/// <summary>List prices of one TPU generation in one region, in USD per chip-hour.</summary>
public sealed record TpuPrice(string Generation, string Region, decimal SpotUsdPerChipHour, decimal OnDemandUsdPerChipHour)
{
    /// <summary>The Spot price for a Spot TPU, the on-demand price otherwise.</summary>
    public decimal PerChipHour(bool spot) => spot ? SpotUsdPerChipHour : OnDemandUsdPerChipHour;
}

/// <summary>
/// The dated price table SpotJax counts cost with: <c>Cost/tpu-prices.json</c>, embedded in this assembly, with
/// its source and the dates inside the file. A generation or region the table lacks has no price (null), never a
/// guessed one.
/// </summary>
public sealed class TpuPrices
{
    /// <summary>The embedded resource holding the default table.</summary>
    public const string ResourceName = "tpu-prices.json";

    private static readonly Lazy<TpuPrices> Embedded = new(LoadEmbedded);
    private static readonly string[] Generations = ["v2", "v3", "v4", "v5litepod", "v5p", "v6e"];

    private readonly Dictionary<(string Generation, string Region), TpuPrice> byKey;

    private TpuPrices(string source, string sourceNote, DateOnly retrieved, DateOnly asOf, IReadOnlyList<TpuPrice> prices)
    {
        Source = source;
        SourceNote = sourceNote;
        Retrieved = retrieved;
        AsOf = asOf;
        Prices = prices;
        byKey = prices.ToDictionary(p => (p.Generation, p.Region));
    }

    /// <summary>Where the figures come from (a URL).</summary>
    public string Source { get; }

    /// <summary>What the source is and how the figures were derived from it.</summary>
    public string SourceNote { get; }

    /// <summary>When the figures were read from the source.</summary>
    public DateOnly Retrieved { get; }

    /// <summary>The date the figures are the prices of.</summary>
    public DateOnly AsOf { get; }

    public IReadOnlyList<TpuPrice> Prices { get; }

    /// <summary>The table embedded in SpotJax.Core.</summary>
    public static TpuPrices Default => Embedded.Value;

    /// <summary>The region of a zone: <c>us-central2</c> for <c>us-central2-b</c>.</summary>
    public static string Region(string zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        var dash = zone.LastIndexOf('-');
        return dash <= 0 ? zone : zone[..dash];
    }

    /// <summary>The price of <paramref name="tpuType"/> in <paramref name="zone"/>'s region, or null when the table has none.</summary>
    public TpuPrice? Find(string tpuType, string zone) =>
        byKey.GetValueOrDefault((TpuChips.Generation(tpuType), Region(zone)));

    /// <summary>Reads and checks a price table: source and dates present, every price positive, Spot below on-demand, no duplicates.</summary>
    /// <exception cref="InvalidDataException">The table is malformed or breaks one of those rules.</exception>
    public static TpuPrices Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        PriceFile file;
        try
        {
            file = JsonSerializer.Deserialize<PriceFile>(json, FileOptions) ?? throw new InvalidDataException("the price table is null");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"the price table is not valid: {e.Message}", e);
        }

        if (!Uri.TryCreate(file.Source, UriKind.Absolute, out var source) || source.Scheme != Uri.UriSchemeHttps)
        {
            throw new InvalidDataException("the price table's source must be an https URL");
        }

        if (string.IsNullOrWhiteSpace(file.SourceNote))
        {
            throw new InvalidDataException("the price table must say what its source is (sourceNote)");
        }

        var retrieved = Date(file.Retrieved, "retrieved");
        var asOf = Date(file.AsOf, "asOf");
        var prices = new List<TpuPrice>();
        foreach (var entry in file.Prices ?? [])
        {
            var where = $"{entry.Generation} in {entry.Region}";
            if (!Generations.Contains(entry.Generation) || string.IsNullOrEmpty(entry.Region) || entry.Region.Any(c => !(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-')))
            {
                throw new InvalidDataException($"price entry {where}: unknown generation or malformed region");
            }

            if (entry.SpotUsdPerChipHour <= 0 || entry.OnDemandUsdPerChipHour <= 0)
            {
                throw new InvalidDataException($"price entry {where}: prices must be positive");
            }

            if (entry.SpotUsdPerChipHour >= entry.OnDemandUsdPerChipHour)
            {
                throw new InvalidDataException($"price entry {where}: the Spot price must be below the on-demand price");
            }

            if (prices.Any(p => p.Generation == entry.Generation && p.Region == entry.Region))
            {
                throw new InvalidDataException($"price entry {where} appears twice");
            }

            prices.Add(new TpuPrice(entry.Generation, entry.Region, entry.SpotUsdPerChipHour, entry.OnDemandUsdPerChipHour));
        }

        return prices.Count == 0
            ? throw new InvalidDataException("the price table has no prices")
            : new TpuPrices(file.Source!, file.SourceNote!, retrieved, asOf, prices);
    }

    private static DateOnly Date(string? text, string field) =>
        DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date)
            ? date
            : throw new InvalidDataException($"the price table's {field} must be a date (yyyy-MM-dd)");

    private static TpuPrices LoadEmbedded()
    {
        using var stream = typeof(TpuPrices).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"{ResourceName} is not embedded in {typeof(TpuPrices).Assembly.GetName().Name}");
        using var reader = new StreamReader(stream);
        return Parse(reader.ReadToEnd());
    }

    private static readonly JsonSerializerOptions FileOptions = new(JsonSerializerDefaults.Web) { UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip };

    private sealed record PriceFile(string? Source, string? SourceNote, string? Retrieved, string? AsOf, IReadOnlyList<PriceEntry>? Prices);

    private sealed record PriceEntry(string Generation, string Region, decimal SpotUsdPerChipHour, decimal OnDemandUsdPerChipHour);
}
