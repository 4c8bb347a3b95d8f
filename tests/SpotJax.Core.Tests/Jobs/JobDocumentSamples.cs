using System.Text.Json.Nodes;

namespace SpotJax.Core.Tests.Jobs;

/// <summary>Valid job documents, and variants of them with one field changed.</summary>
internal static class JobDocumentSamples
{
    /// <summary>Marks a field to remove in <see cref="Json"/>.</summary>
    public const string Delete = "$delete";

    public const string MinimalJson = """
        {
          "name": "resnet",
          "tpu": { "type": "v4-8", "zone": "us-central2-b" },
          "code": "gs://my-bucket/code/resnet.tar.gz",
          "script": "train.py"
        }
        """;

    /// <summary><see cref="MinimalJson"/> with <paramref name="patch"/> merged in; <see cref="Delete"/> removes a field.</summary>
    public static string Json(string patch)
    {
        var document = JsonNode.Parse(MinimalJson)!.AsObject();
        Merge(document, JsonNode.Parse(patch)!.AsObject());
        return document.ToJsonString();
    }

    private static void Merge(JsonObject target, JsonObject patch)
    {
        foreach (var (name, value) in patch.ToList())
        {
            patch.Remove(name);
            if (value is JsonValue v && v.TryGetValue<string>(out var text) && text == Delete)
            {
                target.Remove(name);
            }
            else if (value is JsonObject inner && target[name] is JsonObject existing)
            {
                Merge(existing, inner);
            }
            else
            {
                target[name] = value;
            }
        }
    }
}
