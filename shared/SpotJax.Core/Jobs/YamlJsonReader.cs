using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace SpotJax.Core.Jobs;

/// <summary>
/// Turns one YAML document into the same <see cref="JsonNode"/> tree the JSON reader produces, so a
/// single validator decides for both formats.
/// </summary>
/// <remarks>
/// Scalars follow the YAML 1.2 core schema narrowly: a plain scalar becomes a number only when it is
/// also a JSON number (its text is kept, so <c>1.50</c> in <c>args</c> stays <c>1.50</c>), a boolean
/// only when it is <c>true</c> or <c>false</c>; <c>yes</c>, <c>on</c>, <c>007</c> or <c>0x1F</c> stay text.
/// Walks parser events rather than YamlDotNet's node model so that nesting depth and alias expansion
/// are bounded before they can exhaust the stack or memory.
/// </remarks>
internal sealed partial class YamlJsonReader
{
    private const int MaxDepth = 64;
    private const int MaxValues = 100_000;
    private const string StrTag = "tag:yaml.org,2002:str";
    private const string SeqTag = "tag:yaml.org,2002:seq";
    private const string MapTag = "tag:yaml.org,2002:map";

    private readonly Parser _parser;
    private readonly List<JobDocumentError> _errors;
    private readonly Dictionary<string, (JsonNode? Node, int Values)> _anchors = new(StringComparer.Ordinal);
    private int _values;

    private YamlJsonReader(string text, List<JobDocumentError> errors)
    {
        _parser = new Parser(new StringReader(text));
        _errors = errors;
    }

    /// <summary>The document's root, or null after adding the reason to <paramref name="errors"/>.</summary>
    public static JsonNode? Read(string text, List<JobDocumentError> errors, out bool empty)
    {
        var reader = new YamlJsonReader(text, errors);
        empty = false;
        try
        {
            reader._parser.Consume<StreamStart>();
            if (reader._parser.Accept<StreamEnd>(out _))
            {
                empty = true;
                return null;
            }

            reader._parser.Consume<DocumentStart>();
            var root = reader.ReadNode("", 0);
            reader._parser.Consume<DocumentEnd>();
            if (!reader._parser.Accept<StreamEnd>(out _))
            {
                errors.Add(new("document", $"line {reader._parser.Current?.Start.Line}: a second YAML document ('---') follows; put one job in a document"));
                return null;
            }

            return root;
        }
        catch (YamlException e)
        {
            errors.Add(new("document", $"line {e.Start.Line}: invalid YAML: {e.Message}"));
            return null;
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner gives up this way on some malformed flow collections.
            var line = reader._parser.Current?.End.Line;
            errors.Add(new("document", $"near line {line}: invalid YAML: unbalanced or malformed flow collection ('[...]' or '{{...}}')"));
            return null;
        }
    }

    private JsonNode? ReadNode(string path, int depth)
    {
        var current = _parser.Current ?? throw new YamlException("unexpected end of the document");
        if (depth > MaxDepth)
        {
            throw new YamlException(current.Start, current.End, $"nested deeper than {MaxDepth} levels");
        }

        if (++_values > MaxValues)
        {
            throw new YamlException(current.Start, current.End, $"more than {MaxValues} values (after expanding aliases)");
        }

        if (_parser.TryConsume<AnchorAlias>(out var alias))
        {
            return Expand(alias);
        }

        var valuesBefore = _values - 1;
        AnchorName anchor;
        JsonNode? node;
        if (_parser.TryConsume<Scalar>(out var scalar))
        {
            anchor = scalar.Anchor;
            node = ToJson(scalar);
        }
        else if (_parser.TryConsume<SequenceStart>(out var sequence))
        {
            CheckTag(sequence.Tag, SeqTag, sequence);
            anchor = sequence.Anchor;
            node = ReadSequence(path, depth);
        }
        else
        {
            var mapping = _parser.Consume<MappingStart>();
            CheckTag(mapping.Tag, MapTag, mapping);
            anchor = mapping.Anchor;
            node = ReadMapping(path, depth);
        }

        if (!anchor.IsEmpty)
        {
            _anchors[anchor.Value] = (node, _values - valuesBefore);
        }

        return node;
    }

    private JsonNode? Expand(AnchorAlias alias)
    {
        if (!_anchors.TryGetValue(alias.Value.Value, out var anchored))
        {
            throw new YamlException(alias.Start, alias.End, $"alias '*{alias.Value.Value}' refers to no anchor defined before it");
        }

        // The alias itself was already counted as one value.
        _values += anchored.Values - 1;
        if (_values > MaxValues)
        {
            throw new YamlException(alias.Start, alias.End, $"more than {MaxValues} values (after expanding aliases)");
        }

        return anchored.Node?.DeepClone();
    }

    private JsonArray ReadSequence(string path, int depth)
    {
        var array = new JsonArray();
        while (!_parser.TryConsume<SequenceEnd>(out _))
        {
            array.Add(ReadNode($"{path}[{array.Count}]", depth + 1));
        }

        return array;
    }

    private JsonObject ReadMapping(string path, int depth)
    {
        var obj = new JsonObject();
        while (!_parser.TryConsume<MappingEnd>(out _))
        {
            var keyEvent = _parser.Current;
            if (!_parser.TryConsume<Scalar>(out var key) || !key.Anchor.IsEmpty || !key.Tag.IsEmpty)
            {
                throw new YamlException(keyEvent!.Start, keyEvent.End, "mapping keys must be plain field names");
            }

            var field = path.Length == 0 ? key.Value : $"{path}.{key.Value}";
            var value = ReadNode(field, depth + 1);
            if (!obj.TryAdd(key.Value, value))
            {
                _errors.Add(new(field, $"line {key.Start.Line}: duplicate key; each field may appear once"));
            }
        }

        return obj;
    }

    private static void CheckTag(TagName tag, string allowed, ParsingEvent at)
    {
        if (!tag.IsEmpty && tag.Value != allowed)
        {
            throw new YamlException(at.Start, at.End, $"unsupported tag '{tag.Value}'; remove it");
        }
    }

    private static JsonNode? ToJson(Scalar scalar)
    {
        if (!scalar.Tag.IsEmpty)
        {
            CheckTag(scalar.Tag, StrTag, scalar);
            return JsonValue.Create(scalar.Value);
        }

        if (scalar.Style != ScalarStyle.Plain)
        {
            return JsonValue.Create(scalar.Value);
        }

        return scalar.Value switch
        {
            "" or "~" or "null" or "Null" or "NULL" => null,
            "true" => JsonValue.Create(true),
            "false" => JsonValue.Create(false),
            var text when JsonNumber().IsMatch(text) => JsonNode.Parse(text),
            var text => JsonValue.Create(text),
        };
    }

    [GeneratedRegex(@"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?\z", RegexOptions.CultureInvariant)]
    private static partial Regex JsonNumber();
}
