using System.Collections;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using SpotJax.Core;

namespace SpotJax.Google.Firestore;

/// <summary>
/// The one mapping between SpotJax's records and Firestore's typed <c>Value</c>s. It walks the
/// same contract <see cref="SpotJaxJson.Options"/> serialises with (property names, enum names),
/// so a field added to a record is stored without touching this class: objects become
/// <c>mapValue</c>, lists <c>arrayValue</c>, dictionaries <c>mapValue</c>, integers
/// <c>integerValue</c> strings, <see cref="DateTimeOffset"/> <c>timestampValue</c>, null
/// <c>nullValue</c>. Reading turns the values back into JSON and lets the same options
/// deserialise it, so write and read cannot disagree on a name.
/// </summary>
/// <remarks>
/// Firestore keeps a timestamp in UTC with microsecond precision, while a
/// <see cref="DateTimeOffset"/> has an offset and 100 ns ticks. Where the timestamp alone would
/// lose either, the exact value is also kept, as round-trip text, in the map field
/// <see cref="ExactTimesField"/> keyed by field path; it is used only while it agrees with the
/// timestamp, so a timestamp edited in the console still wins.
/// </remarks>
public static class FirestoreValues
{
    /// <summary>The top-level map of exact round-trip texts for timestamps Firestore would round.</summary>
    public const string ExactTimesField = "exactTimes";

    /// <summary>Prefixed to a map key Firestore would reject (<c>__name__</c> style) or that starts with the prefix itself.</summary>
    private const char KeyEscape = '~';

    private const string TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'";
    private static readonly string[] TimestampParseFormats = ["yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK"];

    /// <summary>A document's <c>fields</c> for <paramref name="value"/>, one typed value per property.</summary>
    public static JsonObject ToFields<T>(T value)
        where T : notnull
    {
        var exact = new JsonObject();
        var fields = EncodeObject(value, "", exact);
        if (exact.Count > 0)
        {
            fields[ExactTimesField] = new JsonObject { ["mapValue"] = new JsonObject { ["fields"] = exact } };
        }

        return fields;
    }

    /// <summary>The record stored in a document's <c>fields</c>; fields the record lacks are ignored.</summary>
    /// <exception cref="InvalidDataException">The fields do not hold a <typeparamref name="T"/>.</exception>
    public static T FromFields<T>(JsonObject fields)
    {
        ArgumentNullException.ThrowIfNull(fields);
        var exact = fields[ExactTimesField]?["mapValue"]?["fields"] as JsonObject;
        var json = new JsonObject();
        foreach (var (name, value) in fields)
        {
            if (name != ExactTimesField)
            {
                json[name] = Decode(value, name, exact);
            }
        }

        try
        {
            return json.Deserialize<T>(SpotJaxJson.Options) ?? throw new InvalidDataException($"the document holds no {typeof(T).Name}");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"the document does not hold a {typeof(T).Name}: {e.Message}", e);
        }
    }

    /// <summary><c>{"stringValue": value}</c>.</summary>
    public static JsonObject String(string value) => new() { ["stringValue"] = value };

    /// <summary><c>{"integerValue": "value"}</c> (int64 travels as a string).</summary>
    public static JsonObject Integer(long value) => new() { ["integerValue"] = value.ToString(CultureInfo.InvariantCulture) };

    /// <summary><c>{"referenceValue": documentName}</c>, the form a cursor on <c>__name__</c> takes.</summary>
    public static JsonObject Reference(string documentName) => new() { ["referenceValue"] = documentName };

    /// <summary><c>{"arrayValue": {"values": [...]}}</c>.</summary>
    public static JsonObject Array(IEnumerable<JsonObject> values) =>
        new() { ["arrayValue"] = new JsonObject { ["values"] = new JsonArray([.. values]) } };

    /// <summary>The integer in an <c>integerValue</c> (string or number), or null for a missing or other value.</summary>
    public static long? ReadInteger(JsonNode? value) => value?["integerValue"] switch
    {
        JsonValue v when v.TryGetValue<long>(out var number) => number,
        JsonValue v when v.TryGetValue<string>(out var text) && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed) => parsed,
        _ => null,
    };

    /// <summary>
    /// Parses an RFC 3339 timestamp as Firestore writes them (UTC, 0 to 9 fractional digits; digits
    /// beyond the 100 ns a <see cref="DateTimeOffset"/> holds are dropped).
    /// </summary>
    public static bool TryParseTimestamp(string? text, out DateTimeOffset value)
    {
        value = default;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        var dot = text.IndexOf('.', StringComparison.Ordinal);
        if (dot >= 0)
        {
            var end = dot + 1;
            while (end < text.Length && char.IsAsciiDigit(text[end]))
            {
                end++;
            }

            if (end - dot - 1 > 7)
            {
                text = text[..(dot + 8)] + text[end..];
            }
        }

        return DateTimeOffset.TryParseExact(
            text, TimestampParseFormats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out value);
    }

    /// <summary>An instant as a Firestore timestamp: UTC, truncated to the microseconds Firestore keeps.</summary>
    public static string FormatTimestamp(DateTimeOffset value) =>
        new DateTimeOffset(value.UtcTicks - (value.UtcTicks % 10), TimeSpan.Zero).ToString(TimestampFormat, CultureInfo.InvariantCulture);

    private static JsonObject EncodeObject(object value, string path, JsonObject exact)
    {
        var info = SpotJaxJson.Options.GetTypeInfo(value.GetType());
        if (info.Kind != JsonTypeInfoKind.Object)
        {
            throw new NotSupportedException($"{value.GetType().Name} is not stored as a document");
        }

        var fields = new JsonObject();
        foreach (var property in info.Properties)
        {
            if (property.Get is { } get)
            {
                fields[property.Name] = Encode(get(value), Join(path, property.Name), exact);
            }
        }

        return fields;
    }

    private static JsonObject Encode(object? value, string path, JsonObject exact)
    {
        switch (value)
        {
            case null:
                return new JsonObject { ["nullValue"] = "NULL_VALUE" };
            case string text:
                return String(text);
            case bool flag:
                return new JsonObject { ["booleanValue"] = flag };
            case DateTimeOffset time:
                if (time.Offset != TimeSpan.Zero || time.UtcTicks % 10 != 0)
                {
                    exact[path] = String(time.ToString("o", CultureInfo.InvariantCulture));
                }

                return new JsonObject { ["timestampValue"] = FormatTimestamp(time) };
            case Enum:
                return String(JsonSerializer.SerializeToElement(value, value.GetType(), SpotJaxJson.Options).GetString()!);
            case sbyte or byte or short or ushort or int or uint or long:
                return Integer(Convert.ToInt64(value, CultureInfo.InvariantCulture));
            case float or double or decimal:
                return new JsonObject { ["doubleValue"] = Convert.ToDouble(value, CultureInfo.InvariantCulture) };
            case IDictionary map:
                var entries = new JsonObject();
                foreach (DictionaryEntry entry in map)
                {
                    var key = Convert.ToString(entry.Key, CultureInfo.InvariantCulture)!;
                    entries[EscapeKey(key)] = Encode(entry.Value, Join(path, key), exact);
                }

                return new JsonObject { ["mapValue"] = new JsonObject { ["fields"] = entries } };
            case IEnumerable list:
                var values = new JsonArray();
                var index = 0;
                foreach (var item in list)
                {
                    values.Add(Encode(item, Join(path, (index++).ToString(CultureInfo.InvariantCulture)), exact));
                }

                return new JsonObject { ["arrayValue"] = new JsonObject { ["values"] = values } };
            default:
                return new JsonObject { ["mapValue"] = new JsonObject { ["fields"] = EncodeObject(value, path, exact) } };
        }
    }

    private static JsonNode? Decode(JsonNode? value, string path, JsonObject? exact)
    {
        if (value is not JsonObject typed || typed.Count != 1)
        {
            throw new InvalidDataException($"field '{path}' is not a Firestore value");
        }

        var (kind, content) = typed.First();
        switch (kind)
        {
            case "nullValue":
                return null;
            case "stringValue":
            case "booleanValue":
            case "doubleValue":
                return content?.DeepClone();
            case "integerValue":
                return ReadInteger(typed) is { } number ? JsonValue.Create(number) : throw new InvalidDataException($"field '{path}' holds a bad integer");
            case "timestampValue":
                return DecodeTimestamp(content?.GetValue<string>(), path, exact);
            case "mapValue":
                var map = new JsonObject();
                foreach (var (key, item) in content?["fields"] as JsonObject ?? [])
                {
                    var original = UnescapeKey(key);
                    map[original] = Decode(item, Join(path, original), exact);
                }

                return map;
            case "arrayValue":
                var list = new JsonArray();
                var index = 0;
                foreach (var item in content?["values"] as JsonArray ?? [])
                {
                    list.Add(Decode(item, Join(path, (index++).ToString(CultureInfo.InvariantCulture)), exact));
                }

                return list;
            default:
                throw new InvalidDataException($"field '{path}' holds a {kind}, which no SpotJax record uses");
        }
    }

    private static JsonValue DecodeTimestamp(string? text, string path, JsonObject? exact)
    {
        if (!TryParseTimestamp(text, out var stored))
        {
            throw new InvalidDataException($"field '{path}' holds a bad timestamp '{text}'");
        }

        var result = stored.ToUniversalTime();
        if (exact?[path]?["stringValue"]?.GetValue<string>() is { } exactText
            && DateTimeOffset.TryParseExact(exactText, "o", CultureInfo.InvariantCulture, DateTimeStyles.None, out var precise)
            && precise.UtcTicks - (precise.UtcTicks % 10) == result.UtcTicks)
        {
            result = precise;
        }

        return JsonValue.Create(result.ToString("o", CultureInfo.InvariantCulture));
    }

    private static string EscapeKey(string key) =>
        key.StartsWith(KeyEscape) || (key.Length >= 4 && key.StartsWith("__", StringComparison.Ordinal) && key.EndsWith("__", StringComparison.Ordinal))
            ? KeyEscape + key
            : key;

    private static string UnescapeKey(string key) => key.StartsWith(KeyEscape) ? key[1..] : key;

    private static string Join(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";
}
